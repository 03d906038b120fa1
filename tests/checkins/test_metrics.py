"""/metrics says how many check-ins are in each status and how old the oldest alert nobody
acknowledged is: the number to page on."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import Alert
from services.core import clock
from services.core.settings import Settings
from tests.checkins.support import sent_checkin


def _value(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_metrics_count_checkins_and_age_the_open_alerts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    before = (await client.get("/metrics")).text
    checkin, _ = await sent_checkin(session, settings)
    session.add(
        Alert(
            patient_id=checkin.patient_id,
            checkin_id=checkin.id,
            severity="urgent",
            reasons=["red_flag:rf_vision"],
            created_at=clock.utcnow() - timedelta(minutes=10),
        )
    )
    await session.flush()

    text = (await client.get("/metrics")).text

    sent = 'clinic_checkins{status="sent"}'
    assert _value(text, sent) == _value(before, sent) + 1
    assert _value(text, 'clinic_alerts_open{severity="urgent"}') >= 1
    assert 590 <= _value(text, 'clinic_alerts_open_oldest_seconds{severity="urgent"}') < 3600
    assert _value(text, 'clinic_alerts_open{severity="normal"}') >= 0
