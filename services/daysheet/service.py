"""The day sheet: one location's day, per practitioner, in local time.

It reads several domains (appointments, patients, clinic setup, and a note's status), so
it sits above them all. Four queries whatever the day holds (the location, its
practitioners, the appointments joined with patient, type and room, only the columns
shown, and whether the location is closed), plus one multi-row insert of audit rows.
"""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.appointments.schemas import Source, Status
from services.appointments.service import RESOURCE, Appointment
from services.clinic.service import (
    AppointmentType,
    Practitioner,
    Room,
    closures_between,
    get_location,
    local_instant,
    practitioners_at,
)
from services.core import audit
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.daysheet.schemas import DaySheet, SheetColumn, SheetEntry
from services.notes.service import note_status_of
from services.patients.service import Patient

_EARLIER = aliased(Appointment)


async def day_sheet(
    session: AsyncSession,
    day: date,
    location_id: uuid.UUID,
    *,
    actor: Principal,
    client: ClientInfo,
) -> DaySheet:
    location = await get_location(session, location_id)
    zone = ZoneInfo(location.time_zone)
    start = local_instant(day, time(0), zone)
    end = local_instant(day + timedelta(days=1), time(0), zone)
    # New patient: the type says so, or nothing of theirs was completed before this visit.
    seen_before = exists().where(
        _EARLIER.patient_id == Appointment.patient_id,
        _EARLIER.status == Status.completed,
        _EARLIER.starts_at < Appointment.starts_at,
    )
    rows = await session.execute(
        select(
            Appointment.id,
            Appointment.practitioner_id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.source,
            Patient.id,  # the inner join leaves holds (no patient yet) out
            func.coalesce(Patient.preferred_name, Patient.given_name) + " " + Patient.family_name,
            AppointmentType.name,
            AppointmentType.colour,
            Room.name,
            Practitioner.display_name,
            or_(AppointmentType.is_new_patient, ~seen_before),
            # The visit's note: whether it exists and its status, never its content.
            note_status_of(Appointment.id),
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(
            Appointment.location_id == location.id,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status != Status.rescheduled,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    columns = {
        p.id: SheetColumn(practitioner_id=p.id, practitioner=p.display_name, appointments=[])
        for p in await practitioners_at(session, location.id)
    }
    shown: list[tuple[uuid.UUID, uuid.UUID]] = []
    for (
        appointment_id,
        practitioner_id,
        starts_at,
        ends_at,
        status,
        source,
        patient_id,
        patient_name,
        type_name,
        colour,
        room,
        practitioner,
        new_patient,
        note_status,
    ) in rows:
        column = columns.setdefault(
            practitioner_id,
            SheetColumn(
                practitioner_id=practitioner_id, practitioner=practitioner, appointments=[]
            ),
        )
        column.appointments.append(
            SheetEntry(
                appointment_id=appointment_id,
                starts_at=starts_at.astimezone(zone),
                ends_at=ends_at.astimezone(zone),
                status=Status(status),
                source=Source(source),
                patient_id=patient_id,
                patient_name=patient_name,
                appointment_type=type_name,
                colour=colour,
                room=room,
                new_patient=bool(new_patient),
                note_status=note_status,
            )
        )
        shown.append((appointment_id, patient_id))
    await audit.record_many_for_patient(
        session,
        actor_id=actor.user_id,
        action="day_sheet",
        resource_type=RESOURCE,
        rows=shown,
        client=client,
    )
    closed = await closures_between(session, location.id, day, day)
    return DaySheet(
        date=day,
        location_id=location.id,
        time_zone=location.time_zone,
        closed=closed[0].reason if closed else None,
        practitioners=list(columns.values()),
    )
