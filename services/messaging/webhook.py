"""Text messages patients send to the clinic's number (the SMS provider's webhook).

The provider signs each request (Twilio's scheme: base64 HMAC-SHA1 over the public URL and
the sorted form fields, keyed with the account's auth token); nothing else authenticates
it, so an unsigned request is refused before anything is read or written. The provider
retries a webhook it thinks failed: the message id is unique, and a second copy is
answered without doing anything again.

What a reply does: a confirm word confirms the sender's next booked visit; a carrier
opt-out word withdraws SMS consent for every patient with that number and cancels their
waiting text messages; anything else is kept for the front desk.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import lifecycle
from services.appointments.schemas import Status
from services.appointments.service import Appointment, record
from services.core import audit
from services.core.deps import ClientInfo
from services.core.errors import Forbidden, ValidationFailed
from services.core.settings import Settings
from services.messaging.models import InboundSms, Message
from services.messaging.schedule import WAITING, cancelled
from services.messaging.signature import valid_signature
from services.patients.consents import new_consent
from services.patients.schemas import ConsentIn
from services.patients.service import Patient

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/webhooks/sms"
RESOURCE = "inbound_sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
CONFIRM_WORDS = frozenset({"C", "YES", "Y", "CONFIRM"})
# The words carriers treat as an opt-out: the provider has already stopped delivery to
# the number, so our records must say so too (or every later send would fail).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
STOP_NOTE = "Replied STOP by text message"
# Copied for each use: a detail dict may end up in an ORM row.
VIA_SMS: dict[str, object] = {"via": "sms"}
# Column sizes of inbound_sms: longer values are not from the provider.
FIELD_LIMITS = {"MessageSid": 64, "From": 20}


@dataclass(frozen=True)
class Inbound:
    provider_id: str
    from_phone: str
    body: str


def _refuse() -> Forbidden:
    return Forbidden("The request does not carry a valid SMS provider signature.")


def expect_signature(settings: Settings, signature: str | None) -> None:
    """403 before the body is even read when there is nothing to verify: no signature, or
    no auth token configured (then nothing can be verified; a 403, never a 500)."""
    if not settings.sms_auth_token or not signature:
        raise _refuse()


def authenticate(settings: Settings, params: Mapping[str, str], signature: str | None) -> None:
    """403 unless the provider signed exactly these fields for our public URL."""
    token = settings.sms_auth_token
    url = settings.public_url.rstrip("/") + WEBHOOK_PATH
    if not token or not signature or not valid_signature(url, params, token, signature):
        raise _refuse()


def parse(params: Mapping[str, str]) -> Inbound:
    errors: list[dict[str, Any]] = []
    for field in ("MessageSid", "From", "Body"):
        if field not in params or (field != "Body" and not params[field].strip()):
            errors.append({"loc": ["body", field], "msg": "Field required", "type": "missing"})
    for field, limit in FIELD_LIMITS.items():
        if len(params.get(field, "")) > limit:
            errors.append(
                {"loc": ["body", field], "msg": f"At most {limit} characters", "type": "too_long"}
            )
    if errors:
        raise ValidationFailed("The message is incomplete.", errors=errors)
    return Inbound(
        provider_id=params["MessageSid"].strip(),
        from_phone=params["From"].strip(),
        body=params["Body"].replace("\x00", ""),  # PostgreSQL text cannot hold NUL
    )


def keyword(body: str) -> str:
    return body.strip().upper()


async def _store(session: AsyncSession, inbound: Inbound) -> uuid.UUID | None:
    """The new row's id, or None when this message id was already received."""
    statement = (
        pg_insert(InboundSms)
        .values(
            provider_id=inbound.provider_id,
            from_phone=inbound.from_phone,
            body=inbound.body,
            action="stored",
        )
        .on_conflict_do_nothing(index_elements=[InboundSms.provider_id])
        .returning(InboundSms.id)
    )
    return await session.scalar(statement)


async def _confirm_next(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], client: ClientInfo, now: datetime
) -> Appointment | None:
    """Confirm the earliest upcoming visit of any patient with the number (a parent and
    child may share a phone: the next visit is the one the reply is about). When that visit
    is already confirmed, nothing changes: a later visit is never confirmed by mistake."""
    if not patient_ids:
        return None
    appointment = await session.scalar(
        select(Appointment)
        .where(
            Appointment.patient_id.in_(patient_ids),
            Appointment.status.in_([Status.booked, Status.confirmed]),
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(1)
        .with_for_update()
    )
    if appointment is None:
        return None
    if appointment.status == Status.confirmed:
        return appointment
    lifecycle.apply(
        session, appointment, lifecycle.CONFIRM, actor_id=None, now=now, detail=dict(VIA_SMS)
    )
    await session.flush()
    await record(session, None, client, "confirm", appointment, dict(VIA_SMS))
    return appointment


async def _opt_out(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], client: ClientInfo, now: datetime
) -> None:
    decision = ConsentIn(channel="sms", granted=False, method="electronic", note=STOP_NOTE)
    for patient_id in patient_ids:
        session.add(new_consent(patient_id, decision, None))
        await audit.record(
            session,
            actor_id=None,
            action="consent",
            resource_type="patient",
            resource_id=patient_id,
            client=client,
            detail={"channel": "sms", "granted": False, **VIA_SMS},
        )
    # A text already ``sending`` is on its way (the opt-out came too late for it) and is
    # left alone; a sender checking a row holds its lock only for milliseconds.
    await session.execute(
        update(Message)
        .where(
            Message.patient_id.in_(patient_ids),
            Message.channel == "sms",
            Message.status.in_(WAITING),
        )
        .values(**cancelled("opted_out", change="opted_out"))
    )


async def receive(
    session: AsyncSession, inbound: Inbound, *, client: ClientInfo, now: datetime
) -> str:
    """Store and act on one inbound message; answers the action taken (``duplicate`` for
    a message id seen before, which changes nothing)."""
    row_id = await _store(session, inbound)
    if row_id is None:
        return "duplicate"
    patient_ids = list(
        await session.scalars(
            select(Patient.id).where(Patient.phone == inbound.from_phone).order_by(Patient.id)
        )
    )
    # One patient: the text is theirs. A shared number: only a confirmed visit says whose.
    patient_id = patient_ids[0] if len(patient_ids) == 1 else None
    appointment_id = None
    action = "stored"
    word = keyword(inbound.body)
    if word in CONFIRM_WORDS:
        appointment = await _confirm_next(session, patient_ids, client, now)
        if appointment is not None:
            action, patient_id, appointment_id = "confirmed", appointment.patient_id, appointment.id
    elif word in STOP_WORDS and patient_ids:
        await _opt_out(session, patient_ids, client, now)
        action = "opted_out"
    await session.execute(
        update(InboundSms)
        .where(InboundSms.id == row_id)
        .values(action=action, patient_id=patient_id, appointment_id=appointment_id)
    )
    detail = {"action": action, "patients": len(patient_ids)}
    await audit.record_for_patient(
        session,
        actor_id=None,
        action="receive",
        resource_type=RESOURCE,
        resource_id=row_id,
        patient_id=patient_id,
        client=client,
        detail=detail,
    )
    log.info("inbound sms", action=action)  # no number, no text: both are PHI
    return action
