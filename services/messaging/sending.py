"""Sending one queued message (sync, in a worker), in three steps, so a slow provider
never holds a lock, a transaction or a pooled connection:

1. ``begin``, one short transaction: lock the row ``FOR UPDATE``, re-check everything
   (consent, contact, the visit still booked at that time, quiet hours, the waitlist offer
   still open, the 72-hour check-in gap under its advisory lock), then either settle the
   row (skipped, deferred) or render it, add its link, and mark it ``sending`` with
   ``attempts + 1`` and ``sending_since``. Commit.
2. Deliver through the channel with no transaction open (the session has returned its
   connection to the pool). The row's id is the Message-ID / SMS ``Idempotency-Key``.
3. ``record``, one short transaction: the outcome (sent, retry, failed), only if the row is
   still ``sending`` with this attempt's number; otherwise the reaper has taken it over and
   a resend is on its way, so the outcome is logged and dropped.

A cancel (or an opt-out) that commits before step 1 locks the row is seen by the checks and
nothing is sent; one that reaches the row during step 1 waits a few milliseconds for it.
A row already ``sending`` is past recall: the text is on its way, so cancels leave it alone
(``schedule.WAITING`` excludes it), step 3 records it sent, and a cancel counts it as told
(a cancellation notice follows, ``ON_ITS_WAY``). For the 72-hour rule an invitation
``sending`` counts as sent, so a second one judged after step 1 committed is skipped.

A duplicate needs the provider to have accepted a message whose outcome was not recorded:
a worker killed during step 2 or before step 3 commits (the reaper resends the row after
``CLINIC_SENDING_TIMEOUT_SECONDS``), or a timeout after the provider accepted (retried as
transient). Both resends carry the same Message-ID / ``Idempotency-Key``.
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


def _retry_at(attempts: int, now: datetime, settings: Settings) -> datetime:
    return now + timedelta(seconds=settings.send_retry_seconds * 2 ** (attempts - 1))


def _leave(message: Message, status: str, now: datetime, why: str) -> None:
    # Status, queued_at and sending_since change together (CHECK constraints tie them).
    message.status, message.queued_at, message.sending_since = status, None, None
    message.updated_at, message.change = now, why


@dataclass(frozen=True)
class Attempt:
    """A send under way once step 1 committed: plain values only. Nothing in step 2 may
    read an ORM row (that would begin a transaction and hold a pooled connection)."""

    message_id: uuid.UUID
    number: int  # the row's ``attempts``: step 3 writes only while it is still this one
    outgoing: Outgoing


def begin(
    session: Session, message_id: uuid.UUID, settings: Settings, now: datetime
) -> Attempt | str:
    """Step 1 (the caller commits): an ``Attempt`` to deliver, or what happened instead
    (``not_queued``, ``skipped``, ``deferred``)."""
    facts = _locked_facts(session, message_id, settings)
    if facts is None or facts.message.status != "queued":
        return "not_queued"
    message = facts.message
    verdict = decide(session, facts, now)
    if isinstance(verdict, Skip):
        _leave(message, "skipped", now, "checked")
        message.reason = verdict.reason
        return "skipped"
    if isinstance(verdict, Defer):
        _leave(message, "pending", now, "quiet_hours")
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
    _leave(message, "sending", now, "sending")
    message.sending_since = now
    message.attempts += 1
    return Attempt(message.id, message.attempts, outgoing)


def record(
    session: Session,
    attempt: Attempt,
    result: str | SendFailure,
    settings: Settings,
    now: datetime,
) -> str:
    """Step 3 (the caller commits): ``result`` is the provider's id or the failure. Answers
    the status the row ended in, or ``superseded`` when the row is no longer this
    attempt's (the reaper returned it for a resend): then nothing is written."""
    message = session.scalars(
        select(Message)
        .where(
            Message.id == attempt.message_id,
            Message.status == "sending",
            Message.attempts == attempt.number,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if message is None:
        # The resend carries the same Message-ID / Idempotency-Key: a duplicate, if this one
        # was accepted, is recognisable at the provider and by the patient's mail client.
        log.warning(
            "send outcome of a superseded attempt not recorded",
            message_id=str(attempt.message_id),
            attempt=attempt.number,
            outcome=result.code if isinstance(result, SendFailure) else "sent",
        )
        return "superseded"
    if isinstance(result, SendFailure):
        message.last_error = result.code
        if result.permanent or message.attempts >= settings.send_max_attempts:
            _leave(message, "failed", now, "send_failed")
            message.reason = result.code
            log.warning("message failed", message_id=str(message.id), error=result.code)
            return "failed"
        _leave(message, "pending", now, "retry")
        message.send_at = _retry_at(message.attempts, now, settings)
        return "retry"
    _leave(message, "sent", now, "sent")
    message.sent_at, message.provider_id = now, result[:255]
    message.last_error = None  # the history keeps earlier attempts' errors
    sms = message.channel == "sms"
    message.segments = gsm.segments(attempt.outgoing.body) if sms else None
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


def send_one(
    session: Session, message_id: uuid.UUID, settings: Settings, deliver: Deliver, now: datetime
) -> str:
    """Send ``message_id`` if it is still queued and still applies; answers the outcome
    (the status it ended in, ``deferred``, ``retry``, ``not_queued`` or ``superseded``).

    Commits ``session`` after step 1 and after step 3, so ``session`` must not be inside a
    ``session.begin()`` block; work the caller left in it commits with step 1. Bound to an
    engine, the session holds no connection while ``deliver`` waits."""
    begun = begin(session, message_id, settings, now)
    session.commit()
    if isinstance(begun, str):
        return begun
    result: str | SendFailure
    try:
        result = deliver(begun.outgoing, settings)
    except SendFailure as failure:
        result = failure
    outcome = record(session, begun, result, settings, now)
    session.commit()
    return outcome
