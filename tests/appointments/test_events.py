"""Appointments announces what it did and knows nobody who listens (core/events.py).

With no subscriber registered, booking, cancelling and completing work and write nothing
of messaging's or checkins'; what it announces, in order, is what docs/architecture.md
lists; and a subscriber that fails rolls the whole request back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.events import Booked, Cancelled, Completed
from services.appointments.models import Appointment
from services.checkins.models import Checkin
from services.core.database import Database
from services.core.events import Events
from services.messaging.models import Message
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked
from tests.live import asgi_client


@pytest.fixture
async def bare(
    app: FastAPI, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, list[Any]]]:
    """The app with every subscriber replaced by one that only records the events."""
    seen: list[Any] = []
    events = Events()

    async def remember(_: AsyncSession, event: object) -> None:
        seen.append(event)

    for kind in (Booked, Cancelled, Completed):
        events.subscribe(kind, remember)
    database.announce_to(events)
    async with asgi_client(app) as client:
        yield client, seen


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_with_no_subscriber_scheduling_works_and_writes_only_its_own_rows(
    bare: tuple[httpx.AsyncClient, list[Any]], clinic: Clinic, session: AsyncSession
) -> None:
    client, seen = bare
    kept = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    dropped = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    for step in ("check-in", "start", "complete"):
        response = await client.post(
            f"{APPOINTMENTS}/{kept['id']}/{step}", headers=clinic.desk.headers
        )
        assert response.status_code == 200, response.text
    response = await client.post(
        f"{APPOINTMENTS}/{dropped['id']}/cancel",
        json={"reason": "clinic"},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200, response.text

    assert [type(event) for event in seen] == [Booked, Booked, Completed, Cancelled]
    assert [str(event.appointment.id) for event in seen] == [
        kept["id"],
        dropped["id"],
        kept["id"],
        dropped["id"],
    ]
    assert await _count(session, Message) == 0
    assert await _count(session, Checkin) == 0


async def test_a_failing_subscriber_rolls_the_booking_back(
    app: FastAPI, database: Database, clinic: Clinic, session: AsyncSession
) -> None:
    events = Events()

    async def fail(_: AsyncSession, event: Booked) -> None:
        raise RuntimeError("subscriber failed")

    events.subscribe(Booked, fail)
    database.announce_to(events)
    async with asgi_client(app) as client:
        response = await client.post(
            APPOINTMENTS,
            json=clinic.body(at(clinic.monday, "09:00")),
            headers=clinic.desk.headers,
        )
    assert response.status_code == 500
    assert await _count(session, Appointment) == 0
