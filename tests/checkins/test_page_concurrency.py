"""Many submissions of one check-in at once (double taps, two open tabs), each request on
its own connection against committed rows: one stores the answers, the others see 410."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from services.checkins.models import Checkin, CheckinAnswers
from services.core.database import Database
from services.core.settings import Settings
from services.notes.models import Observation
from tests.checkins.support import sent_checkin
from tests.checkins.test_page import FORM
from tests.live import committed_client
from tests.servers import TEMPLATE_DB, Servers

pytestmark = pytest.mark.slow

DB = "clinic_checkin_concurrency"
PRESSES = 8


@dataclass
class Live:
    client: httpx.AsyncClient
    database: Database
    checkin_id: uuid.UUID
    token: str


@pytest.fixture(scope="module")
async def live(servers: Servers, settings: Settings) -> AsyncIterator[Live]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    database = Database.from_url(url, pool_size=PRESSES + 2)
    async with database.sessionmaker() as session:
        checkin, token = await sent_checkin(session, settings)
        await session.commit()
    async with committed_client(settings, url, database) as client:
        yield Live(client, database, checkin.id, token)
    await database.dispose()
    servers.drop_database(DB)


async def test_one_submission_wins_the_rest_see_the_link_used(live: Live) -> None:
    url = f"/c/{live.token}"
    responses = await asyncio.gather(
        *(live.client.post(url, data={**FORM, "pain_now": str(n)}) for n in range(PRESSES))
    )

    assert Counter(r.status_code for r in responses) == {200: 1, 410: PRESSES - 1}
    async with live.database.sessionmaker() as session:
        checkin = await session.get_one(Checkin, live.checkin_id)
        answers = await session.get_one(CheckinAnswers, live.checkin_id)
        pains = list(
            await session.scalars(
                select(Observation.value).where(
                    Observation.checkin_id == live.checkin_id, Observation.code == "pain_nrs"
                )
            )
        )
        stored = await session.scalar(
            select(func.count()).where(CheckinAnswers.checkin_id == live.checkin_id)
        )
    assert checkin.status == "answered" and stored == 1
    assert pains == [answers.answers["pain_now"]]
