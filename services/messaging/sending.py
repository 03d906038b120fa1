"""Sending one queued message (sync, in a worker), in three steps, so a slow provider
never holds a lock, a transaction or a pooled connection:

1. ``begin``, one short transaction: lock the row ``FOR UPDATE``, re-check everything
   (consent, contact and quiet hours here; what its kind checks, ``kinds.py``: the visit
   still booked at that time, the waitlist offer still open, the 72-hour check-in gap…),
   then either settle the row (skipped, deferred) or render it, add its link, and mark it
   ``sending`` with ``attempts + 1`` and ``sending_since``. Commit.
2. Deliver through the channel with no transaction open (the session has returned its
   connection to the pool). The row's id is the Message-ID / SMS ``Idempotency-Key``.
3. ``record``, one short transaction: the outcome (sent, retry, failed) in one guarded
   UPDATE, written only if the row is still ``sending`` with this attempt's number (then
   the kind's ``after_sent``: checkins marks its invitation sent); otherwise the reaper has
   taken it over and a resend is on its way, so the outcome is logged and dropped.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session

from services.appointments.service import Appointment
from services.clinic.service import Location, MessageSettings, combine
from services.core.phones import display_phone
from services.core.settings import Settings
from services.messaging import gsm
from services.messaging.channels import Deliver, Outgoing, SendFailure
from services.messaging.facts import Facts
from services.messaging.kinds import Kind, kind_of
from services.messaging.models import Message
from services.messaging.render import Rendered, render
from services.messaging.timing import QuietHours
from services.patients.consents import granted_now
from services.patients.service import Patient

log = structlog.get_logger(__name__)

QUIET_GRACE = timedelta(minutes=30)


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Defer:
    until: datetime


# The send path's locking read and its outcome writes, built once (the outbox's hot loop):
# constructing a statement costs more Python than running a cached one.
_FACTS = (
    select(
        Message,
        Patient,
        Appointment,
        Location,
        MessageSettings,
        granted_now(Patient.id, Patient.preferred_channel),
    )
    .join(Patient, Patient.id == Message.patient_id)
    .join(Appointment, Appointment.id == Message.appointment_id)
    .join(Location, Location.id == Message.location_id)
    .outerjoin(MessageSettings, MessageSettings.location_id == Message.location_id)
    .where(Message.id == bindparam("message_id"))
    .with_for_update(of=Message)
)


def _outcome(**values: object) -> Update:
    """Step 3's one statement: write an outcome only while the row is still this attempt's
    (``sending`` with its number), returning the row (none: superseded). Status, queued_at
    and sending_since change together (CHECK constraints tie them)."""
    return (
        update(Message)
        .where(
            Message.id == bindparam("message_id"),
            Message.status == "sending",
            Message.attempts == bindparam("attempt"),
        )
        .values(queued_at=None, sending_since=None, updated_at=bindparam("at"), **values)
        .returning(Message)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


# Parameter names differ from the columns': SQLAlchemy would add such a name to the SET list.
_SENT = _outcome(
    status="sent",
    change="sent",
    sent_at=bindparam("at"),
    provider_id=bindparam("provider"),
    last_error=None,  # the history keeps earlier attempts' errors
    segments=bindparam("sms_segments"),
)
_RETRY = _outcome(
    status="pending", change="retry", send_at=bindparam("retry_at"), last_error=bindparam("error")
)
_FAILED = _outcome(
    status="failed", change="send_failed", reason=bindparam("error"), last_error=bindparam("error")
)


def _locked_facts(session: Session, message_id: uuid.UUID, settings: Settings) -> Facts | None:
    """The message, locked, with everything the checks and the text need: one statement."""
    row = session.execute(_FACTS, {"message_id": message_id}).one_or_none()
    if row is None:
        return None
    message, patient, appointment, location, saved, granted = row
    effective = combine(location, saved, settings)
    return Facts(message, patient, appointment, location, effective, bool(granted))


def _just_late(message: Message, quiet: QuietHours, now: datetime) -> bool:
    """Due before quiet hours began and reached only just after (a backlog at 20:59): sent,
    rather than held to the morning and maybe skipped for an early visit."""
    began = quiet.began(now)
    return message.send_at < began and now - began <= QUIET_GRACE


def decide(session: Session, facts: Facts, now: datetime) -> Skip | Defer | None:
    """Why this message must not go out now (None: send it)."""
    kind = kind_of(facts.message.kind)
    if kind.staff is not None:
        # To staff (an alert about a possible emergency): no patient consent or quiet hours.
        facts.staff = kind.staff(session, facts)
        if facts.staff:
            return None
        log.error("staff message with nobody to email", message_id=str(facts.message.id))
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
    problem = kind.check(session, facts, now)
    if problem:
        return Skip(problem)
    quiet = QuietHours(
        facts.settings.quiet_start, facts.settings.quiet_end, ZoneInfo(patient.time_zone)
    )
    if quiet.contains(now) and not _just_late(facts.message, quiet, now):
        until = quiet.ends(now)
        if kind.before_visit and until >= facts.appointment.starts_at:
            return Skip("quiet_hours")
        return Defer(until)
    return None


def compose(session: Session, facts: Facts, settings: Settings, now: datetime) -> Rendered:
    patient, appointment, message = facts.patient, facts.appointment, facts.message
    kind = kind_of(message.kind)
    return render(
        kind.templates,
        message.kind,
        message.channel,
        first_name=patient.preferred_name or patient.given_name,
        clinic=facts.settings.sender_name,
        starts_at=kind.names_time(facts),
        zone=ZoneInfo(facts.location.time_zone),
        link=kind.link(session, facts, settings, now),
        phone=display_phone(facts.location.phone),
        moved=appointment.rescheduled_from_id is not None,
        hours=settings.checkin_link_hours,
    )


def _address(kind: Kind, facts: Facts) -> str:
    if kind.staff is not None:
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


_ADDRESSED_ROW = (
    select(Message)
    .where(Message.id == bindparam("message_id"), Message.patient_id.is_(None))
    .with_for_update()
)


def _begin_addressed(
    session: Session, message_id: uuid.UUID, settings: Settings, now: datetime
) -> Attempt | str:
    """Step 1 of a message to someone not a patient yet (``Kind.addressed``)."""
    message = session.scalar(_ADDRESSED_ROW, {"message_id": message_id})
    if message is None or message.status != "queued":
        return "not_queued"
    kind = kind_of(message.kind)
    assert kind.addressed is not None, f"{message.kind} has no patient and no address"
    found = kind.addressed(session, message, settings, now)
    if isinstance(found, str):
        _leave(message, "skipped", now, "checked")
        message.reason = found
        return "skipped"
    message.channel = found.channel
    rendered = render(
        kind.templates,
        message.kind,
        found.channel,
        first_name=found.first_name,
        clinic=found.clinic,
        starts_at=now,
        zone=ZoneInfo("UTC"),
        link=None,
        phone=None,
        extra=found.values,
    )
    outgoing = Outgoing(
        message_id=message.id,
        channel=found.channel,
        to=found.to,
        subject=rendered.subject,
        body=rendered.body,
        sender_name=found.clinic,
    )
    return _start(message, outgoing, now)


def _start(message: Message, outgoing: Outgoing, now: datetime) -> Attempt:
    _leave(message, "sending", now, "sending")
    message.sending_since = now
    message.attempts += 1
    return Attempt(message.id, message.attempts, outgoing)


def begin(
    session: Session, message_id: uuid.UUID, settings: Settings, now: datetime
) -> Attempt | str:
    """Step 1 (the caller commits): an ``Attempt`` to deliver, or what happened instead
    (``not_queued``, ``skipped``, ``deferred``)."""
    facts = _locked_facts(session, message_id, settings)
    if facts is None:
        # No patient to join: a message to someone who is not one yet, or no row at all.
        return _begin_addressed(session, message_id, settings, now)
    if facts.message.status != "queued":
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
    kind = kind_of(message.kind)
    attach = kind.attachments if message.channel == "email" else None
    outgoing = Outgoing(
        message_id=message.id,
        channel=message.channel,
        to=_address(kind, facts),
        subject=rendered.subject,
        body=rendered.body,
        sender_name=facts.settings.sender_name,
        attachments=attach(facts, settings, now) if attach else (),
    )
    return _start(message, outgoing, now)


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
    params: dict[str, object] = {
        "message_id": attempt.message_id,
        "attempt": attempt.number,
        "at": now,
    }
    if isinstance(result, SendFailure):
        failed = result.permanent or attempt.number >= settings.send_max_attempts
        statement, status = (_FAILED, "failed") if failed else (_RETRY, "retry")
        params |= {"error": result.code, "retry_at": _retry_at(attempt.number, now, settings)}
    else:
        sms = attempt.outgoing.channel == "sms"
        statement, status = _SENT, "sent"
        params |= {
            "provider": result[:255],
            "sms_segments": gsm.segments(attempt.outgoing.body) if sms else None,
        }
    message = session.scalars(statement, params).one_or_none()
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
    if status == "failed":
        log.warning("message failed", message_id=str(message.id), error=message.reason)
    if status != "sent":
        return status
    after_sent = kind_of(message.kind).after_sent
    if after_sent is not None:
        after_sent(session, message, settings, now)
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
