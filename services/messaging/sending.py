"""Sending one queued message (sync, in a worker): re-check, render, send, record.

The row stays locked ``FOR UPDATE`` from the re-check until the outcome commits. A cancel
or move that touches the row meanwhile waits, then sees it sent; a cancel that committed
first is seen here and nothing is sent. Two tasks for the same row (a reaped row whose
first task was only late) run one after the other, and the second finds it no longer
queued. Only a worker killed between the provider accepting and the commit can send a
message twice; the Message-ID (email) and ``Idempotency-Key`` (SMS) are the row's id so a
resend is recognisable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from services.appointments.models import FREED, Appointment, WaitlistEntry
from services.checkins.models import Checkin
from services.checkins.policy import MIN_GAP
from services.clinic.models import MessageSettings, Practitioner, PractitionerLocation
from services.clinic.service import EffectiveMessageSettings, Location, combine
from services.core.auth.models import User
from services.core.phones import display_phone
from services.core.settings import Settings
from services.core.tokens import LINK_TOKEN_BYTES, hash_token, new_token
from services.messaging import gsm
from services.messaging.models import ABOUT_UPCOMING, Message, MessageLink
from services.messaging.render import Rendered, render
from services.messaging.timing import QuietHours
from services.patients.consents import granted_now
from services.patients.models import Patient
from workers.channels.base import Outgoing, SendFailure

log = structlog.get_logger(__name__)

Deliver = Callable[[Outgoing, Settings], str]
# Kinds pointless once the appointment has started.
BEFORE_VISIT = (*ABOUT_UPCOMING, "waitlist_offer")
UPCOMING = ("booked", "confirmed")
QUIET_GRACE = timedelta(minutes=30)


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Defer:
    until: datetime


@dataclass
class Facts:
    message: Message
    patient: Patient
    appointment: Appointment
    location: Location
    settings: EffectiveMessageSettings
    consents: bool  # the patient's newest decision on their preferred channel
    checkin: Checkin | None  # for an invitation or an alert email
    staff: tuple[str, ...] = ()  # an alert email's recipients


def _locked_facts(session: Session, message_id: uuid.UUID, settings: Settings) -> Facts | None:
    """The message, locked, with everything the checks and the text need: one statement
    (the send path is the outbox's hot loop)."""
    row = session.execute(
        select(
            Message,
            Patient,
            Appointment,
            Location,
            MessageSettings,
            granted_now(Patient.id, Patient.preferred_channel),
            Checkin,
        )
        .join(Patient, Patient.id == Message.patient_id)
        .join(Appointment, Appointment.id == Message.appointment_id)
        .join(Location, Location.id == Message.location_id)
        .outerjoin(MessageSettings, MessageSettings.location_id == Message.location_id)
        .outerjoin(Checkin, Checkin.id == Message.checkin_id)
        .where(Message.id == message_id)
        .with_for_update(of=Message)
    ).one_or_none()
    if row is None:
        return None
    message, patient, appointment, location, saved, granted, checkin = row
    effective = combine(location, saved, settings)
    facts = Facts(message, patient, appointment, location, effective, bool(granted), checkin)
    if message.kind == "alert":
        facts.staff = _alert_recipients(session, appointment, effective)
    return facts


def _alert_recipients(
    session: Session, appointment: Appointment, settings: EffectiveMessageSettings
) -> tuple[str, ...]:
    """The visit's practitioner, or, when they have left (profile or account closed), every
    active practitioner of the location; and the clinic's alert inbox."""
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
    if settings.alert_email:
        emails.append(settings.alert_email)
    return tuple(dict.fromkeys(a.lower() for a in emails))


def _slot_taken(session: Session, freed: Appointment) -> bool:
    """Someone else was booked into the freed time with that practitioner meanwhile."""
    overlap = Appointment.during.op("&&")(func.tstzrange(freed.starts_at, freed.ends_at, "[)"))
    return bool(
        session.scalar(
            select(
                exists().where(
                    Appointment.practitioner_id == freed.practitioner_id,
                    Appointment.status.not_in(FREED),
                    overlap,
                )
            )
        )
    )


def _appointment_check(session: Session, facts: Facts, now: datetime) -> str | None:
    message, appointment = facts.message, facts.appointment
    if message.kind == "cancellation":
        return None if appointment.status == "cancelled" else "appointment_not_cancelled"
    if now >= appointment.starts_at:
        return "too_late"
    if message.kind == "waitlist_offer":
        still_offered = session.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.offered_appointment_id == appointment.id,
                WaitlistEntry.patient_id == message.patient_id,
                WaitlistEntry.status == "offered",
            )
        )
        if not still_offered:
            return "offer_closed"
        return "slot_taken" if _slot_taken(session, appointment) else None
    if appointment.status not in UPCOMING:
        return "appointment_" + appointment.status
    if appointment.starts_at != message.appointment_starts_at:
        return "appointment_moved"
    return None


def _just_late(message: Message, quiet: QuietHours, now: datetime) -> bool:
    """Due before quiet hours began and reached only just after (a backlog at 20:59): sent,
    rather than held to the morning and maybe skipped for an early visit."""
    began = quiet.began(now)
    return message.send_at < began and now - began <= QUIET_GRACE


def _checkin_check(session: Session, facts: Facts, now: datetime) -> str | None:
    checkin = facts.checkin
    if checkin is None or checkin.status != "scheduled":
        return f"checkin_{checkin.status if checkin else 'missing'}"
    # One patient's invitations are judged one at a time (until this send commits): two
    # claimed in the same run would otherwise both see no recent one and both go out.
    session.execute(
        select(
            func.pg_advisory_xact_lock(func.hashtextextended(f"checkin:{checkin.patient_id}", 0))
        )
    )
    recent = exists().where(
        Message.patient_id == facts.message.patient_id,
        Message.kind == "checkin",
        Message.status == "sent",
        Message.sent_at > now - MIN_GAP,
    )
    return "recent_checkin" if session.scalar(select(recent)) else None


def decide(session: Session, facts: Facts, now: datetime) -> Skip | Defer | None:
    """Why this message must not go out now (None: send it)."""
    if facts.message.kind == "alert":
        # To staff, about a possible emergency: no patient consent or quiet hours apply.
        if facts.staff:
            return None
        log.error("urgent alert with nobody to email", message_id=str(facts.message.id))
        return Skip("no_recipient")
    patient = facts.patient
    if patient.status != "active":
        return Skip("patient_archived")
    channel = patient.preferred_channel  # the patient may have changed it since
    if channel == "none":
        return Skip("no_channel")
    if not (patient.phone if channel == "sms" else patient.email):
        return Skip("no_contact")
    if not facts.consents:
        return Skip("no_consent")
    facts.message.channel = channel
    if facts.message.kind == "checkin":
        problem = _checkin_check(session, facts, now)
    else:
        problem = _appointment_check(session, facts, now)
    if problem:
        return Skip(problem)
    quiet = QuietHours(
        facts.settings.quiet_start, facts.settings.quiet_end, ZoneInfo(patient.time_zone)
    )
    if quiet.contains(now) and not _just_late(facts.message, quiet, now):
        until = quiet.ends(now)
        if facts.message.kind in BEFORE_VISIT and until >= facts.appointment.starts_at:
            return Skip("quiet_hours")
        return Defer(until)
    return None


def checkin_expiry(now: datetime, settings: Settings) -> datetime:
    return now + timedelta(hours=settings.checkin_link_hours)


def _link(session: Session, facts: Facts, settings: Settings, now: datetime) -> str | None:
    """A new link for this send (never an update: see MessageLink): confirm/cancel until
    the visit, or a check-in form for ``CLINIC_CHECKIN_LINK_HOURS``."""
    base = settings.public_url.rstrip("/")
    kind = facts.message.kind
    if kind == "alert":
        return f"{base}/api/v1/alerts?status=open"
    if kind in ABOUT_UPCOMING:
        page, expires_at = "a", facts.appointment.starts_at
    elif kind == "checkin":
        page, expires_at = "c", checkin_expiry(now, settings)
    else:
        return None
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        MessageLink(
            token_hash=hash_token(token, settings.secret_key),
            message_id=facts.message.id,
            expires_at=expires_at,
        )
    )
    return f"{base}/{page}/{token}"


def compose(session: Session, facts: Facts, settings: Settings, now: datetime) -> Rendered:
    patient, appointment, message = facts.patient, facts.appointment, facts.message
    return render(
        message.kind,
        message.channel,
        first_name=patient.preferred_name or patient.given_name,
        clinic=facts.settings.sender_name,
        # An alert email tells when the answers came, everything else the visit's time.
        starts_at=message.created_at if message.kind == "alert" else appointment.starts_at,
        zone=ZoneInfo(facts.location.time_zone),
        link=_link(session, facts, settings, now),
        phone=display_phone(facts.location.phone),
        moved=appointment.rescheduled_from_id is not None,
        hours=settings.checkin_link_hours,
    )


def _address(facts: Facts) -> str:
    if facts.message.kind == "alert":
        return ", ".join(facts.staff)
    patient = facts.patient
    return (patient.phone if facts.message.channel == "sms" else patient.email) or ""


def _retry_at(message: Message, now: datetime, settings: Settings) -> datetime:
    return now + timedelta(seconds=settings.send_retry_seconds * 2 ** (message.attempts - 1))


def _leave_queue(message: Message, status: str, now: datetime, why: str) -> None:
    # Status and queued_at change together (a CHECK constraint ties them).
    message.status, message.queued_at, message.updated_at = status, None, now
    message.change = why


def send_one(
    session: Session, message_id: uuid.UUID, settings: Settings, deliver: Deliver, now: datetime
) -> str:
    """Send ``message_id`` if it is still queued and still applies; answers the outcome
    (the status it ended in, or ``not_queued``). The caller commits."""
    facts = _locked_facts(session, message_id, settings)
    if facts is None or facts.message.status != "queued":
        return "not_queued"
    message = facts.message
    verdict = decide(session, facts, now)
    if isinstance(verdict, Skip):
        _leave_queue(message, "skipped", now, "checked")
        message.reason = verdict.reason
        return "skipped"
    if isinstance(verdict, Defer):
        _leave_queue(message, "pending", now, "quiet_hours")
        message.send_at = verdict.until
        return "deferred"
    rendered = compose(session, facts, settings, now)
    outgoing = Outgoing(
        message_id=message.id,
        channel=message.channel,
        to=_address(facts),
        subject=rendered.subject,
        body=rendered.body,
        sender_name=facts.settings.sender_name,
    )
    message.attempts += 1
    try:
        provider_id = deliver(outgoing, settings)
    except SendFailure as failure:
        message.last_error = failure.code
        if failure.permanent or message.attempts >= settings.send_max_attempts:
            _leave_queue(message, "failed", now, "send_failed")
            message.reason = failure.code
            log.warning("message failed", message_id=str(message.id), error=failure.code)
            return "failed"
        _leave_queue(message, "pending", now, "retry")
        message.send_at = _retry_at(message, now, settings)
        return "retry"
    _leave_queue(message, "sent", now, "sent")
    message.sent_at, message.provider_id = now, provider_id[:255]
    message.last_error = None  # the history keeps earlier attempts' errors
    message.segments = gsm.segments(rendered.body) if message.channel == "sms" else None
    if message.kind == "checkin":
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
    log.info("message sent", message_id=str(message.id), kind=message.kind, channel=message.channel)
    return "sent"
