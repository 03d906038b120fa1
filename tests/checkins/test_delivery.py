"""End to end with real processes: a completed visit's check-in reaches the patient's inbox
(a real SMTP server) from a real worker and beat, its link opens the form, and a red flag
in the answers reaches the practitioner and the clinic by email within a minute."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.appointments.models import Appointment
from services.checkins.models import Alert, Checkin
from services.checkins.schedule import visit_completed
from services.clinic.models import Practitioner
from services.core.auth.models import User
from services.core.database import Database
from services.core.settings import Settings
from services.messaging.models import Message
from tests.fakes.smtp import FakeSmtpServer
from tests.live import committed_client
from tests.messaging.outbox_world import World, engine_for, seed
from tests.servers import TEMPLATE_DB, Servers

pytestmark = pytest.mark.slow

DB = "clinic_test_checkin_delivery"
CLINIC_INBOX = "desk@balanced-atlas.example"
RED_FLAG = {
    "pain_now": 4,
    "headache": 3,
    "migraine_days": 1,
    "sleep_quality": 5,
    "pgic": 4,
    "rf_sudden_headache": True,
    "rf_dizziness": False,
    "rf_vision": False,
    "rf_speech_swallowing": False,
    "rf_numbness_weakness": False,
    "rf_neck_pain": False,
}


@pytest.fixture(scope="module")
def database_url(servers: Servers) -> Iterator[str]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    yield url
    servers.drop_database(DB)


@pytest.fixture
def world(
    servers: Servers, database_url: str, smtp: FakeSmtpServer, tmp_path: Path
) -> Iterator[World]:
    created = World.create(
        database_url, servers.redis_url, smtp.port, tmp_path, CLINIC_ALERT_EMAIL=CLINIC_INBOX
    )
    yield created
    created.stop()


def _completed_visit(database_url: str) -> uuid.UUID:
    """A consenting patient's visit that ended an hour ago, completed (its seeded reminder
    cancelled: only the check-in is under test)."""
    seed(database_url, 1)
    engine = engine_for(database_url)
    with Session(engine) as session, session.begin():
        appointment = session.scalars(
            select(Appointment).order_by(Appointment.created_at.desc()).limit(1)
        ).one()
        session.execute(
            update(Message)
            .where(Message.appointment_id == appointment.id)
            .values(status="cancelled")
        )
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, minutes=30)
        appointment.starts_at, appointment.ends_at = start, start + timedelta(minutes=30)
        appointment.held_from, appointment.held_until = appointment.starts_at, appointment.ends_at
        appointment.status = "completed"
        appointment_id = appointment.id
    engine.dispose()
    return appointment_id


async def _complete_and_let_a_day_pass(
    database_url: str, appointment_id: uuid.UUID, settings: Settings
) -> None:
    """What completing the visit does, then its check-in falls due (a day later, here now)."""
    database = Database.from_url(database_url, pool_size=1)
    try:
        async with database.session_scope() as session:
            await visit_completed(
                session, await session.get_one(Appointment, appointment_id), settings
            )
            await session.execute(
                update(Message)
                .where(Message.appointment_id == appointment_id, Message.kind == "checkin")
                .values(send_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        await database.dispose()


async def _answer(database_url: str, settings: Settings, token: str) -> httpx.Response:
    database = Database.from_url(database_url, pool_size=2)
    try:
        async with committed_client(settings, database_url, database) as client:
            form = await client.get(f"/c/{token}")
            assert form.status_code == 200, form.text
            return await client.post(f"/c/{token}", json={"answers": RED_FLAG})
    finally:
        await database.dispose()


def test_a_checkin_arrives_and_a_red_flag_reaches_the_staff_within_a_minute(
    world: World, smtp: FakeSmtpServer, database_url: str, settings: Settings
) -> None:
    appointment_id = _completed_visit(database_url)
    asyncio.run(_complete_and_let_a_day_pass(database_url, appointment_id, settings))
    world.worker()
    world.beat()

    [invitation] = smtp.wait_for(1, 60)
    assert invitation.subject == "How are you since your visit?"
    found = re.search(r"/c/([A-Za-z0-9_-]+)", invitation.body)
    assert found, invitation.body
    answered_at = time.monotonic()
    response = asyncio.run(_answer(database_url, settings, found.group(1)))
    assert response.status_code == 200, response.text
    assert response.json()["red_flag"] is True

    alert_email = smtp.wait_for(2, 60)[1]
    assert time.monotonic() - answered_at < 60
    assert alert_email.subject and alert_email.subject.startswith("Urgent check-in alert")
    engine = engine_for(database_url)
    with Session(engine) as session:
        practitioner_email = session.scalar(
            select(User.email)
            .join(Practitioner, Practitioner.user_id == User.id)
            .join(Appointment, Appointment.practitioner_id == Practitioner.id)
            .where(Appointment.id == appointment_id)
        )
        checkin = session.scalars(
            select(Checkin).where(Checkin.appointment_id == appointment_id)
        ).one()
        alert = session.scalars(select(Alert).where(Alert.checkin_id == checkin.id)).one()
    engine.dispose()
    assert sorted(alert_email.rcpt_tos) == sorted([str(practitioner_email).lower(), CLINIC_INBOX])
    assert (checkin.status, alert.severity) == ("answered", "urgent")
