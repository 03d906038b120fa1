"""Helpers for the patient-facing tests: a reachable patient, a link with a known token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment, StatusChange
from services.core.settings import Settings
from services.core.tokens import LINK_TOKEN_BYTES, hash_token, new_token
from services.messaging.models import Message, MessageLink
from services.messaging.sending import send_one
from services.patients.models import Patient, PatientConsent
from tests.appointments.conftest import add_patient
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory
from workers import channels

PHONE = "+13125550142"


async def reachable(
    session: AsyncSession, patient: Patient, phone: str = PHONE, *, channel: str = "sms"
) -> Patient:
    """A phone, an email, ``channel`` as the preferred one and consent on it."""
    patient.phone = phone
    patient.email = "jordan@example.com"
    patient.preferred_channel = channel
    session.add(
        PatientConsent(
            patient_id=patient.id,
            channel=channel,
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
    taken = select(MessageLink.message_id)
    message_id = await session.scalar(
        select(Message.id)
        .where(Message.appointment_id == appointment.id, Message.id.not_in(taken))
        .order_by(Message.created_at, Message.kind != "confirmation", Message.offset_minutes)
        .limit(1)
    )
    assert message_id is not None, "booking wrote no message to hang the link on"
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        MessageLink(
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


async def send_now(session: AsyncSession, message: Message, settings: Settings) -> str:
    """What a worker does with this row once it is due (the configured channel)."""
    message.status, message.queued_at = "queued", datetime.now(UTC)
    await session.flush()
    outcome = await session.run_sync(
        lambda sync: send_one(sync, message.id, settings, channels.send, datetime.now(UTC))
    )
    await session.flush()  # where the worker commits
    return outcome


async def visit_at(
    session: AsyncSession, settings: Settings, start: datetime, *, status: str = "booked"
) -> Appointment:
    """A new clinic (location, practitioner, type) and Jordan's 30-minute visit there at
    ``start``, in ``status``. Not committed."""
    setup = ClinicFactory(Factory(session, settings))
    location = await setup.location(name=f"The Balanced Atlas {uuid.uuid4().hex[:4]}")
    practitioner = await setup.practitioner(location)
    kind = await setup.appointment_type()
    patient = await add_patient(session, "Jordan")
    appointment = Appointment(
        patient_id=patient.id,
        practitioner_id=practitioner.id,
        location_id=location.id,
        appointment_type_id=kind.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        held_from=start,
        held_until=start + timedelta(minutes=30),
        status=status,
    )
    session.add(appointment)
    await session.flush()
    return appointment


async def add_link(
    session: AsyncSession, settings: Settings, message: Message, expires_at: datetime
) -> str:
    """A link in ``message`` as the sender adds it; answers its token."""
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        MessageLink(
            token_hash=hash_token(token, settings.secret_key),
            message_id=message.id,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return token


async def linked_visit(session: AsyncSession, settings: Settings) -> tuple[Appointment, str]:
    """A clinic, Jordan's visit three days ahead and the reminder about it that went out,
    with its confirm/cancel link; answers the visit and the link's token. Not committed."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    appointment = await visit_at(session, settings, start)
    # The sender marks a message sent in the transaction that adds its link.
    message = Message(
        kind="reminder",
        patient_id=appointment.patient_id,
        appointment_id=appointment.id,
        appointment_starts_at=start,
        location_id=appointment.location_id,
        channel="sms",
        offset_minutes=120,
        send_at=datetime.now(UTC),
        status="sent",
        sent_at=datetime.now(UTC),
    )
    session.add(message)
    await session.flush()
    return appointment, await add_link(session, settings, message, start)
