"""The waitlist: patients who want an earlier visit with a practitioner between two dates.

Dates are local dates at the appointment's location. When time is freed (a cancellation or a
move), ``offer_freed_time`` offers it to the oldest fitting entry; when the patient books,
``closing_entries`` (part of the booking's INSERT) closes their open entries. Both run in the
caller's transaction.

Every staff role reads and writes the waitlist (like patient demographics); each entry shown
or written is an audited access to patient data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, Date, DateTime, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment, WaitlistEntry, holds_time
from services.appointments.waitlist_schemas import WaitlistCreate, WaitlistStatus
from services.clinic.service import (
    AppointmentType,
    get_appointment_type,
    get_location,
    get_practitioner,
)
from services.core import audit, clock
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound, ValidationFailed
from services.core.pagination import PageParams
from services.patients import service as patients

RESOURCE = "waitlist_entry"
WAITLIST_ROLES = frozenset({Role.front_desk, Role.chiropractor, Role.admin})
# What the list shows when no status is asked for: the entries still wanting a slot.
OPEN = (WaitlistStatus.waiting.value, WaitlistStatus.offered.value)


async def _audit(
    session: AsyncSession,
    actor: Principal,
    client: ClientInfo,
    action: str,
    entry: WaitlistEntry,
    detail: dict[str, Any] | None = None,
) -> None:
    await audit.record_about(
        session,
        entry,
        actor_id=actor.user_id,
        action=action,
        resource_type=RESOURCE,
        client=client,
        detail=detail,
    )


def _invalid(field: str, message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}.",
        errors=[{"loc": ["body", field], "msg": message, "type": kind}],
    )


async def create_entry(
    session: AsyncSession, data: WaitlistCreate, *, actor: Principal, client: ClientInfo
) -> WaitlistEntry:
    # The records named come first, so ids that do not exist are a 404 whatever the dates.
    patient = await patients.get_patient(
        session, data.patient_id, actor=actor, client=client, action=""
    )
    await get_practitioner(session, data.practitioner_id)
    if data.appointment_type_id is not None:
        await get_appointment_type(session, data.appointment_type_id)
    if data.latest_date < data.earliest_date:
        raise _invalid("latest_date", "must be on or after earliest_date", "date_order")
    # "Today" where the patient is: the day a request still makes sense to them.
    today = clock.utcnow().astimezone(ZoneInfo(patient.time_zone)).date()
    if data.latest_date < today:
        raise _invalid("latest_date", "is in the past", "date_in_past")
    entry = WaitlistEntry(
        patient_id=patient.id,
        practitioner_id=data.practitioner_id,
        appointment_type_id=data.appointment_type_id,
        earliest_date=data.earliest_date,
        latest_date=data.latest_date,
        note=data.note,
        created_by=actor.user_id,
    )
    session.add(entry)
    await session.flush()
    await session.refresh(entry)
    await _audit(session, actor, client, "create", entry)
    return entry


async def list_entries(
    session: AsyncSession,
    *,
    status: WaitlistStatus | None,
    practitioner_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[WaitlistEntry]:
    """Oldest first (the order offers are made in). Without a status: waiting and offered."""
    statuses = (status.value,) if status is not None else OPEN
    query = select(WaitlistEntry).where(WaitlistEntry.status.in_(statuses))
    if practitioner_id is not None:
        query = query.where(WaitlistEntry.practitioner_id == practitioner_id)
    if patient_id is not None:
        query = query.where(WaitlistEntry.patient_id == patient_id)
    query = query.order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    rows = (await session.scalars(page.apply(query))).all()
    # Each entry shown is a read of that patient's data.
    for entry in rows[: page.limit]:
        await _audit(session, actor, client, "list", entry)
    return rows


async def remove_entry(
    session: AsyncSession, entry_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    """Take the entry off the list (kept, status ``removed``). Removing twice changes nothing;
    an entry that ended in a booking is history and stays as it is (409)."""
    entry = await session.get(WaitlistEntry, entry_id, with_for_update=True)
    if entry is None:
        raise NotFound("No waitlist entry with this id.")
    if entry.status == WaitlistStatus.removed:
        return
    if entry.status == WaitlistStatus.booked:
        raise Conflict("This waitlist entry ended in a booking; it cannot be removed.")
    entry.status = WaitlistStatus.removed.value
    entry.updated_at = clock.utcnow()
    await session.flush()
    await _audit(session, actor, client, "remove", entry)


async def _local_date(session: AsyncSession, appointment: Appointment) -> date:
    location = await get_location(session, appointment.location_id)
    return appointment.starts_at.astimezone(ZoneInfo(location.time_zone)).date()


async def offer_freed_time(session: AsyncSession, appointment: Appointment) -> WaitlistEntry | None:
    """Offer the time ``appointment`` gave up to the oldest waitlist entry it suits.

    Call it in the transaction that cancelled or moved ``appointment`` away, after its new
    status was flushed. Time in the past is not offered, and one freed visit is offered at
    most once (a second call for the same appointment returns None).

    The entry chosen is the oldest ``waiting`` one for the same practitioner whose
    ``[earliest_date, latest_date]`` contains the appointment's local date (its location's
    time zone), whose patient is not the appointment's patient and holds no other
    appointment at that time, and whose appointment type, if it names one, fits in the freed
    visit (``ends_at - starts_at``). It is locked ``FOR UPDATE SKIP LOCKED``: two concurrent
    cancellations never offer the same entry, and neither waits for the other.

    The entry becomes ``offered`` (``offered_appointment_id``, ``offered_starts_at``,
    ``offered_at``) and is returned; None when nothing fits. Writes no audit row: the caller
    audits the cancellation or move that caused it.
    """
    now = clock.utcnow()
    if appointment.starts_at <= now:
        return None
    already = select(WaitlistEntry.id).where(WaitlistEntry.offered_appointment_id == appointment.id)
    if await session.scalar(already.limit(1)) is not None:
        return None
    local_date = await _local_date(session, appointment)
    freed_minutes = (appointment.ends_at - appointment.starts_at) / timedelta(minutes=1)
    type_fits = exists().where(
        AppointmentType.id == WaitlistEntry.appointment_type_id,
        AppointmentType.duration_minutes <= freed_minutes,
    )
    patient_busy = exists().where(
        Appointment.patient_id == WaitlistEntry.patient_id,
        holds_time(),
        Appointment.during.op("&&")(
            func.tstzrange(appointment.starts_at, appointment.ends_at, "[)")
        ),
    )
    query = (
        select(WaitlistEntry)
        .where(
            WaitlistEntry.practitioner_id == appointment.practitioner_id,
            WaitlistEntry.status == WaitlistStatus.waiting.value,
            WaitlistEntry.earliest_date <= local_date,
            WaitlistEntry.latest_date >= local_date,
            WaitlistEntry.patient_id != appointment.patient_id,
            WaitlistEntry.appointment_type_id.is_(None) | type_fits,
            ~patient_busy,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    entry = await session.scalar(query)
    if entry is None:
        return None
    entry.status = WaitlistStatus.offered.value
    entry.offered_appointment_id = appointment.id
    entry.offered_starts_at = appointment.starts_at
    entry.offered_at = now
    entry.updated_at = now
    await session.flush()
    return entry


def closing_entries(new: CTE) -> CTE:
    """Close the waitlist entries a new booking satisfies: the patient's ``waiting`` or
    ``offered`` entries with the same practitioner whose date range contains the
    appointment's local date (its location's time zone) become ``booked``.

    An UPDATE for the booking's INSERT to carry as one more CTE (``booking._INSERT``): it
    costs no round trip of its own, with or without anyone waiting, and a refused insert
    (no row in ``new``) closes nothing. Its parameters: ``local_date`` and ``now``.
    """
    local_date = bindparam("local_date", type_=Date)
    return (
        update(WaitlistEntry)
        .where(
            WaitlistEntry.patient_id == new.c.patient_id,
            WaitlistEntry.practitioner_id == new.c.practitioner_id,
            WaitlistEntry.status.in_(OPEN),
            WaitlistEntry.earliest_date <= local_date,
            WaitlistEntry.latest_date >= local_date,
        )
        .values(
            status=WaitlistStatus.booked.value,
            updated_at=bindparam("now", type_=DateTime(timezone=True)),
        )
        .cte("closed_waitlist_entries")
    )
