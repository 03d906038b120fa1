"""Helpers for the patient-facing tests: a reachable patient, a link with a known token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment, StatusChange
from services.core.settings import Settings
from services.core.tokens import LINK_TOKEN_BYTES, hash_token, new_token
from services.messaging.models import AppointmentLink, Message
from services.patients.models import Patient, PatientConsent

PHONE = "+13125550142"


async def reachable(session: AsyncSession, patient: Patient, phone: str = PHONE) -> Patient:
    """SMS as the preferred channel, a phone and consent: booking writes pending rows."""
    patient.phone = phone
    patient.preferred_channel = "sms"
    session.add(
        PatientConsent(
            patient_id=patient.id,
            channel="sms",
            granted=True,
            method="written",
            recorded_at=datetime.now(UTC) - timedelta(days=1),
        )
    )
    await session.flush()
    return patient


async def fresh(session: AsyncSession, appointment_id: uuid.UUID | str) -> Appointment:
    """The appointment as the database has it now (the app wrote it in its own session)."""
    return await session.get_one(
        Appointment, uuid.UUID(str(appointment_id)), populate_existing=True
    )


async def history(session: AsyncSession, appointment_id: uuid.UUID | str) -> list[StatusChange]:
    rows = await session.scalars(
        select(StatusChange)
        .where(StatusChange.appointment_id == uuid.UUID(str(appointment_id)))
        .order_by(StatusChange.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def messages_of(session: AsyncSession, appointment_id: uuid.UUID | str) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.appointment_id == uuid.UUID(str(appointment_id)))
        .order_by(Message.kind, Message.offset_minutes)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def make_link(
    session: AsyncSession,
    settings: Settings,
    appointment_id: uuid.UUID | str,
    *,
    expires_at: datetime | None = None,
) -> str:
    """A link as the sender makes one, on one of the appointment's messages (booking wrote
    them), which is then sent (the sender marks it sent in the same transaction); answers
    the token, which only this test knows."""
    appointment = await fresh(session, appointment_id)
    taken = select(AppointmentLink.message_id)
    message_id = await session.scalar(
        select(Message.id)
        .where(Message.appointment_id == appointment.id, Message.id.not_in(taken))
        .order_by(Message.created_at, Message.kind != "confirmation", Message.offset_minutes)
        .limit(1)
    )
    assert message_id is not None, "booking wrote no message to hang the link on"
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        AppointmentLink(
            token_hash=hash_token(token, settings.secret_key),
            message_id=message_id,
            expires_at=expires_at or appointment.starts_at,
        )
    )
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(status="sent", sent_at=func.now(), change="sent")
    )
    await session.flush()
    return token
