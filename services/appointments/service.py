"""Appointments: book, read, list, move. Every access is authorised and audited.

Other domains (notes, messaging) use appointments through the functions here; what it
does that others act on, it announces (``events.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import booking
from services.appointments import holds as holds
from services.appointments.availability import REACH as REACH
from services.appointments.availability import Need as Need
from services.appointments.availability import busy_times
from services.appointments.availability import find_slots as find_slots
from services.appointments.booking import Place as Place
from services.appointments.booking import hold as hold
from services.appointments.events import Booked, Moved, WaitlistOffered
from services.appointments.models import FREED as FREED
from services.appointments.models import HELD, StatusChange
from services.appointments.models import Appointment as Appointment
from services.appointments.models import AppointmentSeries as AppointmentSeries
from services.appointments.models import WaitlistEntry as WaitlistEntry
from services.appointments.models import holds_time as holds_time
from services.appointments.schemas import (
    AppointmentCreate,
    AppointmentDetail,
    AppointmentOut,
    Reschedule,
    Source,
    Status,
    StatusChangeOut,
)
from services.appointments.waitlist import offer_freed_time
from services.clinic.service import get_location
from services.core import audit, clock
from services.core.auth.access import load_authorized
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, Forbidden, NotFound
from services.core.events import announce
from services.core.pagination import PageParams

RESOURCE = "appointment"
APPOINTMENT_ROLES = frozenset({Role.front_desk, Role.chiropractor, Role.admin})
# Booking over a practitioner's other appointments is a clinical decision.
OVERLAP_ROLES = frozenset({Role.chiropractor, Role.admin})
MOVABLE = frozenset({Status.booked, Status.confirmed})


def may_access(principal: Principal, _: Appointment) -> bool:
    return principal.has_any(APPOINTMENT_ROLES)


async def record(
    session: AsyncSession,
    actor: Principal | None,
    client: ClientInfo,
    action: str,
    appointment: Appointment,
    detail: dict[str, Any] | None = None,
) -> None:
    """An audit row for an appointment; it names the patient, whose data this is.
    ``actor`` None: the patient, through a link in a message."""
    await audit.record_about(
        session,
        appointment,
        actor_id=actor.user_id if actor else None,
        action=action,
        resource_type=RESOURCE,
        client=client,
        detail=detail,
    )


def patient_of(appointment: Appointment) -> uuid.UUID:
    """The patient of an appointment staff reach: only a hold has none, and holds never
    reach them (``get_appointment`` and the lists leave them out)."""
    if appointment.patient_id is None:
        raise NotFound("No appointment with this id.")
    return appointment.patient_id


def to_out(appointment: Appointment, zone: ZoneInfo) -> AppointmentOut:
    return AppointmentOut(
        id=appointment.id,
        patient_id=patient_of(appointment),
        practitioner_id=appointment.practitioner_id,
        location_id=appointment.location_id,
        room_id=appointment.room_id,
        appointment_type_id=appointment.appointment_type_id,
        series_id=appointment.series_id,
        source=Source(appointment.source),
        starts_at=appointment.starts_at.astimezone(zone),
        ends_at=appointment.ends_at.astimezone(zone),
        status=Status(appointment.status),
        allow_overlap=appointment.allow_overlap,
        cancel_reason=appointment.cancel_reason,
        late_cancel=appointment.late_cancel,
        note=appointment.note,
        rescheduled_from_id=appointment.rescheduled_from_id,
        rescheduled_to_id=appointment.rescheduled_to_id,
        created_at=appointment.created_at,
        status_changed_at=appointment.status_changed_at,
    )


async def zone_of(session: AsyncSession, appointment: Appointment) -> ZoneInfo:
    return ZoneInfo((await get_location(session, appointment.location_id)).time_zone)


async def out(session: AsyncSession, appointment: Appointment) -> AppointmentOut:
    return to_out(appointment, await zone_of(session, appointment))


def _check_overlap_role(actor: Principal, allow_overlap: bool) -> None:
    if allow_overlap and not actor.has_any(OVERLAP_ROLES):
        raise Forbidden("Only a chiropractor or an admin may book over other appointments.")


async def create_appointment(
    session: AsyncSession, data: AppointmentCreate, *, actor: Principal, client: ClientInfo
) -> AppointmentOut:
    """Book, and answer from the rows already loaded (no read of them again)."""
    found = await booking.parties(session, data, actor=actor, client=client)
    _check_overlap_role(actor, data.allow_overlap)
    spot = booking.Place(
        patient_id=found.patient_id,
        practitioner=found.practitioner,
        location=found.location,
        kind=found.kind,
        starts_at=data.starts_at,
        room_id=data.room_id,
        allow_overlap=data.allow_overlap,
        note=data.note,
    )
    detail: dict[str, object] = {"allow_overlap": True} if data.allow_overlap else {}
    appointment = await booking.place(
        session, spot, actor_id=actor.user_id, now=clock.utcnow(), detail=detail
    )
    await announce(session, Booked(appointment))
    await record(session, actor, client, "create", appointment, detail)
    return to_out(appointment, spot.zone)


async def series_has_upcoming(session: AsyncSession, series_id: uuid.UUID) -> bool:
    """The care plan still has a visit to come."""
    upcoming = exists().where(
        Appointment.series_id == series_id,
        Appointment.status.in_([s.value for s in MOVABLE]),
    )
    return bool(await session.scalar(select(upcoming)))


async def release(session: AsyncSession, appointment: Appointment) -> dict[str, str]:
    """After a cancel or a move: offer the freed time to the waitlist, if it is really free
    (a visit moved by a few minutes keeps most of its old time). Answers audit detail."""
    held = (appointment.held_from, appointment.held_until)
    busy = await busy_times(session, "practitioner_id", [appointment.practitioner_id], held)
    if not busy[appointment.practitioner_id].is_free(held):
        return {}
    entry = await offer_freed_time(session, appointment)
    if entry is None:
        return {}
    await announce(session, WaitlistOffered(appointment, entry.patient_id))
    return {"waitlist_offered": str(entry.id)}


async def get_appointment(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    *,
    actor: Principal,
    client: ClientInfo,
    for_update: bool = False,
    action: str = "read",
) -> Appointment:
    appointment = await load_authorized(
        session, Appointment, appointment_id, actor, may_access, for_update=for_update
    )
    if appointment.status == HELD:
        # Not an appointment yet: a time kept for someone booking online.
        raise NotFound("No appointment with this id.")
    if action:
        await record(session, actor, client, action, appointment)
    return appointment


async def detail(session: AsyncSession, appointment: Appointment) -> AppointmentDetail:
    changes = await session.scalars(
        select(StatusChange)
        .where(StatusChange.appointment_id == appointment.id)
        .order_by(StatusChange.id)
    )
    base = await out(session, appointment)
    return AppointmentDetail(
        **base.model_dump(), history=[StatusChangeOut.model_validate(c) for c in changes]
    )


async def list_appointments(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID | None,
    practitioner_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    statuses: Sequence[Status],
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> list[AppointmentOut]:
    """Earliest first. Each appointment listed is an audited read of its patient's data.
    Holds (times kept for someone booking online) are not appointments yet: left out."""
    query = select(Appointment).where(Appointment.status != HELD)
    if patient_id is not None:
        query = query.where(Appointment.patient_id == patient_id)
    if practitioner_id is not None:
        query = query.where(Appointment.practitioner_id == practitioner_id)
    if location_id is not None:
        query = query.where(Appointment.location_id == location_id)
    if starts_from is not None:
        query = query.where(Appointment.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(Appointment.starts_at < starts_before)
    if statuses:
        query = query.where(Appointment.status.in_([s.value for s in statuses]))
    query = query.order_by(Appointment.starts_at, Appointment.id)
    rows = (await session.scalars(page.apply(query))).all()
    found = [await out(session, appointment) for appointment in rows]
    await audit.record_listed(
        session, rows[: page.limit], actor_id=actor.user_id, resource_type=RESOURCE, client=client
    )
    return found


async def reschedule(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    data: Reschedule,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Appointment:
    """Move to a new time (practitioner, room) in one transaction.

    The old appointment stays as history (status ``rescheduled``, linked both ways). If the
    new time is refused, the transaction rolls back and the old one is untouched.
    """
    old = await get_appointment(
        session, appointment_id, actor=actor, client=client, for_update=True, action=""
    )
    if data.practitioner_id is not None:
        practitioner = await booking.bookable_practitioner(session, data.practitioner_id)
    else:
        practitioner = await booking.bookable_practitioner(session, old.practitioner_id)
    _check_overlap_role(actor, data.allow_overlap)
    if Status(old.status) not in MOVABLE:
        raise Conflict(f"A {old.status.replace('_', ' ')} appointment cannot be rescheduled.")
    location = await booking.location_for(session, practitioner, old.location_id)
    kind = await booking.bookable_type(session, old.appointment_type_id)
    return await move(
        session,
        old,
        booking.Place(
            patient_id=patient_of(old),
            practitioner=practitioner,
            location=location,
            kind=kind,
            starts_at=data.starts_at,
            room_id=data.room_id,
            allow_overlap=data.allow_overlap,
            note=old.note,
            series_id=old.series_id,
            source=old.source,
        ),
        actor=actor,
        client=client,
    )


async def move(
    session: AsyncSession,
    old: Appointment,
    spot: booking.Place,
    *,
    actor: Principal,
    client: ClientInfo,
    confirm: bool = True,
) -> Appointment:
    """Free the old appointment's time and book ``spot`` in its place (one transaction).
    ``confirm``: send the patient a confirmation of the new time."""
    new_id = uuid.uuid4()
    previous = old.status
    now = clock.utcnow()
    old.status = Status.rescheduled
    old.rescheduled_to_id = new_id  # checked at commit: the new row does not exist yet
    old.status_changed_at = now
    session.add(
        StatusChange(
            appointment_id=old.id,
            from_status=previous,
            to_status=Status.rescheduled,
            actor_id=actor.user_id,
            detail={"rescheduled_to": str(new_id)},
        )
    )
    await session.flush()
    new = await booking.place(
        session,
        spot,
        actor_id=actor.user_id,
        now=now,
        detail={"rescheduled_from": str(old.id)},
        appointment_id=new_id,
    )
    new.rescheduled_from_id = old.id
    await session.flush()
    await announce(session, Moved(old, new, confirm=confirm))
    offered = await release(session, old)
    await record(
        session, actor, client, "reschedule", old, {"rescheduled_to": str(new.id), **offered}
    )
    await record(session, actor, client, "create", new, {"rescheduled_from": str(old.id)})
    return new
