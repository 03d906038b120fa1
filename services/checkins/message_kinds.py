"""Checkins' outbox kinds (registered by the composition root, ``services/wiring.py``):

- ``checkin``, the invitation: it goes only while its check-in is still scheduled, and
  never within ``MIN_GAP`` of another one sent to the patient; its link is ``/c/`` for
  ``CLINIC_CHECKIN_LINK_HOURS``; once sent, checkins marks its own row sent.
- ``alert``, the email to staff about an urgent answer: to the visit's practitioner (or,
  when they have left, every active practitioner of the location) and the clinic's inbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from services.checkins.models import Checkin
from services.checkins.policy import MIN_GAP
from services.clinic.service import Practitioner, PractitionerLocation
from services.core.auth.models import User
from services.core.settings import Settings
from services.messaging.facts import Facts, new_link
from services.messaging.kinds import Kind
from services.messaging.service import Message

TEMPLATES = "services.checkins"


def checkin_expiry(now: datetime, settings: Settings) -> datetime:
    return now + timedelta(hours=settings.checkin_link_hours)


def _still_due(session: Session, facts: Facts, now: datetime) -> str | None:
    checkin = session.get(Checkin, facts.message.checkin_id)
    if checkin is None or checkin.status != "scheduled":
        return f"checkin_{checkin.status if checkin else 'missing'}"
    # One patient's invitations are judged one at a time (until this step commits, the
    # row ``sending``): two claimed in the same run would otherwise both see no recent one
    # and both go out. One being sent counts as sent: it is on its way.
    session.execute(
        select(
            func.pg_advisory_xact_lock(func.hashtextextended(f"checkin:{checkin.patient_id}", 0))
        )
    )
    recent = exists().where(
        Message.patient_id == facts.message.patient_id,
        Message.kind == "checkin",
        Message.id != facts.message.id,
        (Message.status == "sending")
        | ((Message.status == "sent") & (Message.sent_at > now - MIN_GAP)),
    )
    return "recent_checkin" if session.scalar(select(recent)) else None


def _form_link(session: Session, facts: Facts, settings: Settings, now: datetime) -> str:
    return new_link(session, facts, settings, "c", checkin_expiry(now, settings))


def _mark_sent(session: Session, message: Message, settings: Settings, now: datetime) -> None:
    # Not a check-in answered meanwhile through the link of an earlier attempt.
    session.execute(
        update(Checkin)
        .where(Checkin.id == message.checkin_id, Checkin.status.in_(("scheduled", "sent")))
        .values(
            status="sent",
            sent_at=func.coalesce(Checkin.sent_at, now),
            expires_at=checkin_expiry(now, settings),  # the newest link's
        )
    )


def _recipients(session: Session, facts: Facts) -> tuple[str, ...]:
    appointment = facts.appointment
    active = (
        select(User.email)
        .join(Practitioner, Practitioner.user_id == User.id)
        .where(User.is_active, Practitioner.is_active)
    )
    emails = list(session.scalars(active.where(Practitioner.id == appointment.practitioner_id)))
    if not emails:
        emails = list(
            session.scalars(
                active.join(
                    PractitionerLocation, PractitionerLocation.practitioner_id == Practitioner.id
                )
                .where(PractitionerLocation.location_id == appointment.location_id)
                .order_by(User.email)
            )
        )
    if facts.settings.alert_email:
        emails.append(facts.settings.alert_email)
    return tuple(dict.fromkeys(a.lower() for a in emails))


def _nothing_to_check(session: Session, facts: Facts, now: datetime) -> str | None:
    return None


def _open_alerts(session: Session, facts: Facts, settings: Settings, now: datetime) -> str:
    return f"{settings.public_url.rstrip('/')}/api/v1/alerts?status=open"


def _answered_at(facts: Facts) -> datetime:
    return facts.message.created_at  # an alert tells when the answers came


KINDS = (
    Kind("checkin", _still_due, link=_form_link, after_sent=_mark_sent, templates=TEMPLATES),
    Kind(
        "alert",
        _nothing_to_check,
        link=_open_alerts,
        staff=_recipients,
        clinical=True,
        templates=TEMPLATES,
        names_time=_answered_at,
    ),
)
