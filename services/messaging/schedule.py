"""Writing outbox rows in the transaction that causes them (booking, move, cancel, offer).

Nothing here sends: rows wait in ``messages`` until the dispatcher finds them due. Because
the rows commit or roll back with their cause, a rolled-back booking leaves no reminder
and a committed cancel leaves no pending one.

"Waiting" (what a cancel, a move or an opt-out changes) is ``pending`` and ``queued``, not
``sending``: a row ``sending`` has its text on the way to the provider (``sending.py``),
which nothing can call back. A cancel leaves it, the sender records it sent, and the
cancel counts it as something the patient was told, so the cancellation notice follows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Insert, Select, Table, bindparam, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment
from services.clinic.service import effective_message_settings
from services.core import clock
from services.core.settings import Settings
from services.messaging.models import ON_ITS_WAY, Message
from services.messaging.timing import QuietHours, earliest_allowed, reminder_at
from services.patients.service import Patient

UNIQUE_KEY = "uq_messages_one_per_subject"
# Not yet sent and still changeable; ``sending`` is deliberately not here (see above).
WAITING = ("pending", "queued")


@dataclass(frozen=True)
class Planned:
    kind: str
    send_at: datetime
    offset_minutes: int | None = None
    skip: str | None = None  # reason, when the message is known not to go out
    checkin_id: uuid.UUID | None = None
    channel: str | None = None  # None: the patient's preferred channel


async def _rules(
    session: AsyncSession, appointment: Appointment, patient: Patient, settings: Settings
) -> tuple[tuple[int, ...], QuietHours]:
    """The location's reminder offsets, and quiet hours on the patient's clock."""
    used = await effective_message_settings(session, appointment.location_id, settings)
    quiet = QuietHours(used.quiet_start, used.quiet_end, ZoneInfo(patient.time_zone))
    return used.reminder_offsets_minutes, quiet


def _immediate(kind: str, before: datetime, now: datetime, quiet: QuietHours) -> Planned:
    """Now, or when quiet hours end; pointless (skipped) once ``before`` has come."""
    at = earliest_allowed(now, quiet)
    return Planned(kind, at, skip="too_late" if at >= before else None)


def _upsert() -> Insert:
    """Insert a planned row; a pending row with the same key (a reminder that moved with its
    visit) takes the new time instead.

    Built once, with fixed text: executed with a list of rows it is one round trip (an
    executemany), and SQLAlchemy compiles it once; rows given in ``.values()`` make a
    statement with no cache key, compiled on every booking."""
    statement = pg_insert(cast(Table, Message.__table__))
    return statement.on_conflict_do_update(
        constraint=UNIQUE_KEY,
        set_={
            "send_at": statement.excluded.send_at,
            "appointment_starts_at": statement.excluded.appointment_starts_at,
            "status": statement.excluded.status,
            "reason": statement.excluded.reason,
            "change": statement.excluded.change,
            "updated_at": bindparam("changed_at", type_=DateTime(timezone=True)),
        },
        where=Message.status == "pending",
    )


_UPSERT = _upsert()


async def _write(
    session: AsyncSession,
    appointment: Appointment,
    patient: Patient,
    planned: Sequence[Planned],
    cause: str,
) -> None:
    """Insert the planned rows; a pending row with the same key (a reminder that moved with
    its visit) takes the new time instead. Consent, contact and channel are judged when a
    message is sent, not here: consent recorded after booking still counts."""
    if not planned:
        return
    now = clock.utcnow()
    values = [
        {
            "kind": p.kind,
            "patient_id": patient.id,
            "appointment_id": appointment.id,
            "appointment_starts_at": appointment.starts_at,
            "location_id": appointment.location_id,
            "channel": p.channel or patient.preferred_channel,
            "offset_minutes": p.offset_minutes,
            "checkin_id": p.checkin_id,
            "send_at": p.send_at,
            "status": "skipped" if p.skip else "pending",
            "reason": p.skip,
            "change": cause,
            "changed_at": now,
        }
        for p in planned
    ]
    await session.execute(_UPSERT, values)


async def appointment_booked(
    session: AsyncSession,
    appointment: Appointment,
    settings: Settings,
    *,
    confirm: bool = True,
    cause: str = "booked",
) -> None:
    """A confirmation now (``confirm``) and one reminder per offset before the visit."""
    patient = await session.get_one(Patient, appointment.patient_id)
    offsets, quiet = await _rules(session, appointment, patient, settings)
    now = clock.utcnow()
    planned = [_immediate("confirmation", appointment.starts_at, now, quiet)] if confirm else []
    for offset in offsets:
        at = reminder_at(appointment.starts_at, offset, quiet)
        planned.append(Planned("reminder", at, offset, skip="too_late" if at <= now else None))
    await _write(session, appointment, patient, planned, cause)


def cancelled(reason: str, change: str = "cancel") -> dict[str, object]:
    """The values that cancel a waiting message (status and queued_at change together)."""
    return {
        "status": "cancelled",
        "reason": reason,
        "queued_at": None,
        "updated_at": clock.utcnow(),
        "change": change,
    }


async def cancel_waiting(session: AsyncSession, appointment_id: uuid.UUID, reason: str) -> None:
    """Cancel the appointment's messages waiting to be sent. A sender checking a row holds
    its lock for a few milliseconds: this waits, then finds it ``sending`` (or settled)
    and leaves it alone; it never waits on a provider."""
    await session.execute(
        update(Message)
        .where(
            Message.appointment_id == appointment_id,
            Message.status.in_(WAITING),
        )
        .values(**cancelled(reason))
    )


async def appointment_moved(
    session: AsyncSession,
    old: Appointment,
    new: Appointment,
    settings: Settings,
    *,
    confirm: bool = True,
) -> None:
    """Reminders not yet sent move with the visit (same rows, new times); the old visit's
    other waiting messages are cancelled; the new time is confirmed (``confirm``)."""
    await session.execute(
        update(Message)
        .where(
            Message.appointment_id == old.id,
            Message.kind == "reminder",
            Message.status.in_(WAITING),
        )
        .values(
            appointment_id=new.id,
            status="pending",
            queued_at=None,
            updated_at=clock.utcnow(),
            change="moved",
        )
    )
    await cancel_waiting(session, old.id, "rescheduled")
    await appointment_booked(session, new, settings, confirm=confirm, cause="moved")


async def _told(session: AsyncSession, appointment: Appointment) -> bool:
    """Something about this visit, or a time it was moved from, reached the patient or is
    on its way (``sending``: it will arrive, cancel or not)."""
    earlier = (
        select(Appointment.id, Appointment.rescheduled_from_id)
        .where(Appointment.id == appointment.id)
        .cte("earlier", recursive=True)
    )
    earlier = earlier.union_all(
        select(Appointment.id, Appointment.rescheduled_from_id).where(
            Appointment.id == earlier.c.rescheduled_from_id
        )
    )
    sent = exists().where(
        Message.appointment_id.in_(select(earlier.c.id)),
        Message.patient_id == appointment.patient_id,
        Message.status.in_(ON_ITS_WAY),
    )
    return bool(await session.scalar(select(sent)))


async def appointment_cancelled(
    session: AsyncSession, appointment: Appointment, settings: Settings, *, notify: bool = True
) -> None:
    """Nothing more about this visit goes out, except a cancellation notice (``notify``)
    when the patient was already told about it."""
    await cancel_waiting(session, appointment.id, "appointment_cancelled")
    if not notify:
        return
    if not await _told(session, appointment):
        return
    patient = await session.get_one(Patient, appointment.patient_id)
    _, quiet = await _rules(session, appointment, patient, settings)
    notice = _immediate("cancellation", appointment.starts_at, clock.utcnow(), quiet)
    await _write(session, appointment, patient, [notice], "cancelled")


async def waitlist_offered(
    session: AsyncSession, appointment: Appointment, patient_id: uuid.UUID, settings: Settings
) -> None:
    """Tell the waitlisted patient about ``appointment``'s freed time."""
    patient = await session.get_one(Patient, patient_id)
    _, quiet = await _rules(session, appointment, patient, settings)
    offer = _immediate("waitlist_offer", appointment.starts_at, clock.utcnow(), quiet)
    # The row names the freed appointment; its patient is the one offered the time.
    await _write(session, appointment, patient, [offer], "waitlist")


async def checkin_planned(
    session: AsyncSession,
    appointment: Appointment,
    patient: Patient,
    checkin_id: uuid.UUID,
    due_at: datetime,
    settings: Settings,
) -> None:
    """The invitation to answer a check-in, at ``due_at`` or when quiet hours end."""
    _, quiet = await _rules(session, appointment, patient, settings)
    invitation = Planned("checkin", earliest_allowed(due_at, quiet), checkin_id=checkin_id)
    await _write(session, appointment, patient, [invitation], "checkin")


async def cancel_checkin_invitations(
    session: AsyncSession, checkin_ids: Select[uuid.UUID], reason: str
) -> None:
    """Cancel the invitations not yet sent of these check-ins (a trigger cancels the
    check-ins with them). An invitation ``sending`` is on its way and is left alone."""
    await session.execute(
        update(Message)
        .where(Message.checkin_id.in_(checkin_ids), Message.status.in_(WAITING))
        .values(**cancelled(reason))
    )


async def alert_raised(
    session: AsyncSession, appointment: Appointment, patient: Patient, checkin_id: uuid.UUID
) -> None:
    """Email the practitioner and the clinic about an urgent alert on ``checkin_id`` now,
    quiet hours or not: staff, not the patient, receive it (the sender picks the
    addresses when it sends)."""
    email = Planned("alert", clock.utcnow(), checkin_id=checkin_id, channel="email")
    await _write(session, appointment, patient, [email], "alert")
