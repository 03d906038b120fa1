"""The kinds about a visit: confirmation, reminder, cancellation notice, waitlist offer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from services.appointments.service import REACH, Appointment, WaitlistEntry, holds_time
from services.core.settings import Settings
from services.messaging.calendar_file import visit_calendar
from services.messaging.facts import Facts, new_link
from services.messaging.kinds import Kind

UPCOMING = ("booked", "confirmed")


def _visit_to_come(session: Session, facts: Facts, now: datetime) -> str | None:
    message, appointment = facts.message, facts.appointment
    if now >= appointment.starts_at:
        return "too_late"
    if appointment.status not in UPCOMING:
        return "appointment_" + appointment.status
    if appointment.starts_at != message.appointment_starts_at:
        return "appointment_moved"
    return None


def _still_cancelled(session: Session, facts: Facts, now: datetime) -> str | None:
    return None if facts.appointment.status == "cancelled" else "appointment_not_cancelled"


def _slot_taken(session: Session, freed: Appointment) -> bool:
    """Someone else was booked into the freed time with that practitioner meanwhile.

    The ``starts_at`` bound (a visit is shorter than ``REACH``) lets the (practitioner,
    starts_at) index answer: without it this read the practitioner's whole history."""
    overlap = Appointment.during.op("&&")(func.tstzrange(freed.starts_at, freed.ends_at, "[)"))
    return bool(
        session.scalar(
            select(
                exists().where(
                    Appointment.practitioner_id == freed.practitioner_id,
                    Appointment.starts_at > freed.starts_at - REACH,
                    Appointment.starts_at < freed.ends_at,
                    holds_time(),
                    overlap,
                )
            )
        )
    )


def _offer_open(session: Session, facts: Facts, now: datetime) -> str | None:
    appointment = facts.appointment
    if now >= appointment.starts_at:
        return "too_late"
    still_offered = session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.offered_appointment_id == appointment.id,
            WaitlistEntry.patient_id == facts.message.patient_id,
            WaitlistEntry.status == "offered",
        )
    )
    if not still_offered:
        return "offer_closed"
    return "slot_taken" if _slot_taken(session, appointment) else None


def _confirm_or_cancel(
    session: Session, facts: Facts, settings: Settings, now: datetime
) -> str | None:
    """``/a/``: confirm or cancel, until the visit starts."""
    return new_link(session, facts, settings, "a", facts.appointment.starts_at)


KINDS = (
    Kind(
        "confirmation",
        _visit_to_come,
        link=_confirm_or_cancel,
        before_visit=True,
        attachments=visit_calendar,
    ),
    Kind("reminder", _visit_to_come, link=_confirm_or_cancel, before_visit=True),
    Kind("cancellation", _still_cancelled),
    Kind("waitlist_offer", _offer_open, before_visit=True),
)
