"""Many presses of one link at once (double taps, two open tabs), each request on its own
connection against committed rows: exactly one changes the visit, the others see 410."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from services.appointments.models import Appointment, StatusChange
from services.core.database import Database
from services.core.settings import Settings
from services.messaging.models import Message, MessageLink
from tests.live import committed_client
from tests.messaging.support import linked_visit
from tests.servers import TEMPLATE_DB, Servers

pytestmark = pytest.mark.slow

DB = "clinic_links_concurrency"
PRESSES = 12


@dataclass
class Live:
    client: httpx.AsyncClient
    database: Database
    appointment_id: uuid.UUID
    token: str


@pytest.fixture(scope="module")
async def live(servers: Servers, settings: Settings) -> AsyncIterator[Live]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    database = Database.from_url(url, pool_size=PRESSES + 2)
    async with database.sessionmaker() as session:
        appointment, token = await linked_visit(session, settings)
        await session.commit()
        appointment_id = appointment.id
    async with committed_client(settings, url, database) as client:
        yield Live(client, database, appointment_id, token)
    await database.dispose()
    servers.drop_database(DB)


async def test_one_press_wins_the_rest_see_the_link_used(live: Live) -> None:
    actions = ["confirm", "cancel"] * (PRESSES // 2)
    responses = await asyncio.gather(
        *(live.client.post(f"/a/{live.token}", data={"action": a}) for a in actions)
    )

    assert Counter(r.status_code for r in responses) == {200: 1, 410: PRESSES - 1}
    async with live.database.sessionmaker() as session:
        appointment = await session.get_one(Appointment, live.appointment_id)
        link = await session.scalar(
            select(MessageLink)
            .join(Message, Message.id == MessageLink.message_id)
            .where(Message.appointment_id == live.appointment_id)
        )
        changes = await session.scalar(
            select(func.count()).where(StatusChange.appointment_id == live.appointment_id)
        )
    assert link is not None and link.used_for is not None
    assert appointment.status == {"confirm": "confirmed", "cancel": "cancelled"}[link.used_for]
    assert changes == 1  # nothing recorded the booking itself here: only the one change
