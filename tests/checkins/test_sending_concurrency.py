"""Two invitations of one patient claimed in the same run, sent by two workers at once:
one goes out, the other is skipped by the 72-hour rule (on committed rows, two
connections)."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.appointments.models import Appointment
from services.core.database import Database
from services.core.settings import Settings
from services.messaging.channels import Outgoing
from services.messaging.models import Message
from services.messaging.sending import send_one
from services.patients.models import Patient
from tests.checkins.support import completed_visit, invitation, new_checkin
from tests.messaging.outbox_world import quiet_hours_away_from_now
from tests.messaging.support import reachable
from tests.servers import TEMPLATE_DB, Servers
from workers import channels

pytestmark = pytest.mark.slow

DB = "clinic_checkin_gap"


async def _two_invitations(url: str, settings: Settings) -> list[uuid.UUID]:
    """Two completed visits of one consenting patient, each with a queued invitation."""
    database = Database.from_url(url, pool_size=1)
    try:
        async with database.sessionmaker() as session:
            first = await completed_visit(session, settings, hours_ago=30)
            await reachable(session, await session.get_one(Patient, first.patient_id))
            second = Appointment(
                **{
                    column: getattr(first, column)
                    for column in ("patient_id", "practitioner_id", "location_id")
                },
                appointment_type_id=first.appointment_type_id,
                starts_at=first.starts_at + timedelta(hours=26),
                ends_at=first.ends_at + timedelta(hours=26),
                held_from=first.held_from + timedelta(hours=26),
                held_until=first.held_until + timedelta(hours=26),
                status="completed",
            )
            session.add(second)
            await session.flush()
            now = datetime.now(UTC)
            ids = []
            for visit in (first, second):
                checkin = await new_checkin(session, visit, due_at=now)
                message = await invitation(session, visit, checkin, status="queued", queued_at=now)
                ids.append(message.id)
            await session.commit()
            return ids
    finally:
        await database.dispose()


def test_two_invitations_sent_at_once_send_one(
    servers: Servers, settings: Settings, tmp_path: Path
) -> None:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    outbox = settings.model_copy(
        update={"data_dir": tmp_path, "quiet_hours": quiet_hours_away_from_now()}
    )
    ids = asyncio.run(_two_invitations(url, outbox))
    engine = create_engine(url, pool_size=2)

    def slow(outgoing: Outgoing, settings: Settings) -> str:
        time.sleep(0.5)  # the other worker runs its checks meanwhile
        return channels.send(outgoing, settings)

    def worker(message_id: uuid.UUID) -> str:
        with Session(engine) as session:  # send_one commits its own steps
            return send_one(session, message_id, outbox, slow, datetime.now(UTC))

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(worker, ids))
        with Session(engine) as session:
            reasons = [session.get_one(Message, i).reason for i in ids]
    finally:
        engine.dispose()
        servers.drop_database(DB)

    assert sorted(outcomes) == ["sent", "skipped"]
    assert sorted(r or "" for r in reasons) == ["", "recent_checkin"]
    assert len(list(outbox.outbox_dir.iterdir())) == 1
