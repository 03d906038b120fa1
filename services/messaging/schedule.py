"""Writing outbox rows in the transaction that causes them (booking, move, cancel, offer).

Nothing here sends: rows wait in ``messages`` until the dispatcher finds them due. Because
the rows commit or roll back with their cause, a rolled-back booking leaves no reminder
and a committed cancel leaves no pending one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.clinic.service import effective_message_settings
from services.core import clock
from services.messaging.models import Message
from services.messaging.timing import QuietHours, earliest_allowed, reminder_at
from services.patients.consents import current
from services.patients.models import Patient

UNIQUE_KEY = "uq_messages_kind_appointment_id_offset_minutes"
WAITING = ("pending", "queued")


@dataclass(frozen=True)
class Planned:
    kind: str
    send_at: datetime
    offset_minutes: int | None = None
    skip: str | None = None  # reason, when the message is known not to go out


async def channel_for(session: AsyncSession, patient: Patient) -> tuple[str, str | None]:
    """The patient's channel and, when nothing may be sent on it, why not."""
    if patient.status != "active":
        return patient.preferred_channel, "patient_archived"
    channel = patient.preferred_channel
    if channel == "none":
        return "none", "no_channel"
    if (channel == "sms" and not patient.phone) or (channel == "email" and not patient.email):
        return channel, "no_contact"
    consent = (await current(session, [patient.id]))[patient.id]
    if not getattr(consent, channel):
        return channel, "no_consent"
    return channel, None


async def _quiet_hours(
    session: AsyncSession, appointment: Appointment, patient: Patient
) -> tuple[tuple[int, ...], QuietHours]:
    settings = await effective_message_settings(session, appointment.location_id)
    quiet = QuietHours(settings.quiet_start, settings.quiet_end, ZoneInfo(patient.time_zone))
    return settings.reminder_offsets_minutes, quiet


def _immediate(kind: str, before: datetime, now: datetime, quiet: QuietHours) -> Planned:
    """Now, or when quiet hours end; pointless (skipped) once ``before`` has come."""
    at = earliest_allowed(now, quiet)
    return Planned(kind, at, skip="too_late" if at >= before else None)


async def _write(
    session: AsyncSession,
    appointment: Appointment,
    patient: Patient,
    planned: Sequence[Planned],
    cause: str,
) -> None:
    """Insert the planned rows; a pending row with the same key (a reminder that moved with
    its visit) takes the new time instead. Every row written gets an event."""
    if not planned:
        return
    channel, blocked = await channel_for(session, patient)
    values = [
        {
            "kind": p.kind,
            "patient_id": patient.id,
            "appointment_id": appointment.id,
            "appointment_starts_at": appointment.starts_at,
            "location_id": appointment.location_id,
            "channel": channel,
            "offset_minutes": p.offset_minutes,
            "send_at": p.send_at,
            "status": "skipped" if (blocked or p.skip) else "pending",
            "reason": blocked or p.skip,
            "change": cause,
        }
        for p in planned
    ]
    statement = pg_insert(Message).values(values)
    upsert = statement.on_conflict_do_update(
        constraint=UNIQUE_KEY,
        set_={
            "send_at": statement.excluded.send_at,
            "appointment_starts_at": statement.excluded.appointment_starts_at,
            "status": statement.excluded.status,
            "reason": statement.excluded.reason,
            "change": statement.excluded.change,
            "updated_at": clock.utcnow(),
        },
        where=Message.status == "pending",
    )
    await session.execute(upsert)


async def appointment_booked(
    session: AsyncSession, appointment: Appointment, *, confirm: bool = True
) -> None:
    """A confirmation now (``confirm``) and one reminder per offset before the visit."""
    patient = await session.get_one(Patient, appointment.patient_id)
    offsets, quiet = await _quiet_hours(session, appointment, patient)
    now = clock.utcnow()
    planned = [_immediate("confirmation", appointment.starts_at, now, quiet)] if confirm else []
    for offset in offsets:
        at = reminder_at(appointment.starts_at, offset, quiet)
        planned.append(Planned("reminder", at, offset, skip="too_late" if at <= now else None))
    await _write(session, appointment, patient, planned, "booked")


async def cancel_waiting(session: AsyncSession, appointment_id: uuid.UUID, reason: str) -> None:
    """Cancel the appointment's messages not yet sent. A send in progress holds its row
    lock: this waits for it, and then finds the row sent and leaves it alone."""
    await session.execute(
        update(Message)
        .where(
            Message.appointment_id == appointment_id,
            Message.status.in_(WAITING),
            Message.kind != "waitlist_offer",  # about another patient's booking
        )
        .values(
            status="cancelled",
            reason=reason,
            queued_at=None,
            updated_at=clock.utcnow(),
            change="cancel",
        )
    )


async def appointment_moved(
    session: AsyncSession, old: Appointment, new: Appointment, *, confirm: bool = True
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
    await appointment_booked(session, new, confirm=confirm)


async def appointment_cancelled(
    session: AsyncSession, appointment: Appointment, *, notify: bool = True
) -> None:
    """Nothing more about this visit goes out, except a cancellation notice (``notify``)
    when the patient was already told about it."""
    await cancel_waiting(session, appointment.id, "appointment_cancelled")
    if not notify:
        return
    told = await session.scalar(
        select(exists().where(Message.appointment_id == appointment.id, Message.status == "sent"))
    )
    if not told:
        return
    patient = await session.get_one(Patient, appointment.patient_id)
    _, quiet = await _quiet_hours(session, appointment, patient)
    notice = _immediate("cancellation", appointment.starts_at, clock.utcnow(), quiet)
    await _write(session, appointment, patient, [notice], "cancelled")


async def waitlist_offered(
    session: AsyncSession, appointment: Appointment, patient_id: uuid.UUID
) -> None:
    """Tell the waitlisted patient about ``appointment``'s freed time."""
    patient = await session.get_one(Patient, patient_id)
    _, quiet = await _quiet_hours(session, appointment, patient)
    offer = _immediate("waitlist_offer", appointment.starts_at, clock.utcnow(), quiet)
    # The row names the freed appointment; its patient is the one offered the time.
    await _write(session, appointment, patient, [offer], "waitlist")
