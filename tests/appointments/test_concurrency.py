"""Double booking under real concurrency: many requests at once, each on its own
PostgreSQL connection and transaction, against a database of committed rows (the per-test
rolled-back connection of the other tests would serialise them)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from services.appointments import booking
from services.clinic.models import AppointmentType, Location, Practitioner, PractitionerLocation
from services.core import clock
from services.core.database import Database
from services.core.errors import Conflict
from services.core.settings import Settings
from services.patients.models import Patient
from tests.appointments.conftest import APPOINTMENTS, add_patient, at, next_monday
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory, Staff
from tests.live import committed_client
from tests.servers import TEMPLATE_DB, Servers

pytestmark = pytest.mark.slow

DB = "clinic_concurrency"
ATTEMPTS = 200


@dataclass
class Live:
    client: httpx.AsyncClient
    database: Database
    staff: Staff
    practitioner_id: uuid.UUID
    type_id: uuid.UUID
    patients: list[Patient]


@pytest.fixture(scope="module")
async def live(servers: Servers, settings: Settings) -> AsyncIterator[Live]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    # Enough connections that the attempts really run side by side in PostgreSQL (30, and
    # 10 more under load), and few enough to leave room under the server's 100 for the
    # tests running next to these.
    database = Database.from_url(url, pool_size=30)
    async with database.sessionmaker() as session:
        factory = Factory(session, settings)
        setup = ClinicFactory(factory)
        location = await setup.location()
        practitioner = await setup.practitioner(location)
        await setup.hours(practitioner, location, range(7), time(8), time(18))
        kind = AppointmentType(name="Adjustment", duration_minutes=30, colour="#123456")
        session.add(kind)
        await session.flush()
        patients = [await add_patient(session) for _ in range(ATTEMPTS)]
        staff = await factory.staff()
        await session.commit()
    async with committed_client(settings, url, database) as client:
        yield Live(client, database, staff, practitioner.id, kind.id, patients)
    await database.dispose()
    servers.drop_database(DB)


def _body(live: Live, patient: Patient, start: str) -> dict[str, Any]:
    return {
        "patient_id": str(patient.id),
        "practitioner_id": str(live.practitioner_id),
        "appointment_type_id": str(live.type_id),
        "starts_at": start,
    }


async def _overlapping_active_pairs(live: Live) -> int:
    async with live.database.sessionmaker() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM appointments a JOIN appointments b"
                " ON a.id < b.id AND (a.practitioner_id = b.practitioner_id"
                "  OR a.patient_id = b.patient_id OR a.room_id = b.room_id)"
                " AND a.held && b.held"
                " WHERE a.status NOT IN ('cancelled', 'no_show', 'rescheduled')"
                " AND b.status NOT IN ('cancelled', 'no_show', 'rescheduled')"
                " AND NOT (a.allow_overlap OR b.allow_overlap)"
            )
        )
    return int(found or 0)


async def test_200_overlapping_attempts_book_exactly_one(live: Live) -> None:
    day = next_monday(weeks_ahead=3)
    # Every start lies within 29 minutes of every other: each pair of 30-minute visits
    # overlaps, so exactly one can win.
    starts = [at(day, f"09:{n % 30:02d}") for n in range(ATTEMPTS)]
    responses = await asyncio.gather(
        *(
            live.client.post(
                APPOINTMENTS, json=_body(live, patient, start), headers=live.staff.headers
            )
            for patient, start in zip(live.patients, starts, strict=True)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: ATTEMPTS - 1}, statuses
    assert all(r.json()["conflict"] == "practitioner" for r in responses if r.status_code == 409)
    assert await _overlapping_active_pairs(live) == 0


async def test_the_same_idempotency_key_at_once_books_once(live: Live) -> None:
    day = next_monday(weeks_ahead=4)
    body = _body(live, live.patients[0], at(day, "11:00"))
    key = f"double-click-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *(
            live.client.post(
                APPOINTMENTS,
                json=body,
                headers={**live.staff.headers, "Idempotency-Key": key},
            )
            for _ in range(20)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("Idempotent-Replayed") == "true") == 19
    other = await live.client.post(
        APPOINTMENTS,
        json={**body, "starts_at": at(day, "12:00")},
        headers={**live.staff.headers, "Idempotency-Key": key},
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    async with live.database.sessionmaker() as session:
        rows = await session.scalar(
            text("SELECT count(*) FROM appointments WHERE patient_id = :p AND starts_at >= :d"),
            {"p": live.patients[0].id, "d": day + timedelta(days=0)},
        )
    assert rows == 1


async def test_a_cancelled_slot_is_rebooked_by_exactly_one_of_many(live: Live) -> None:
    day = next_monday(weeks_ahead=5)
    first = await live.client.post(
        APPOINTMENTS,
        json=_body(live, live.patients[1], at(day, "14:00")),
        headers=live.staff.headers,
    )
    assert first.status_code == 201
    cancel = await live.client.post(
        f"{APPOINTMENTS}/{first.json()['id']}/cancel",
        json={"reason": "patient"},
        headers=live.staff.headers,
    )
    assert cancel.status_code == 200
    responses = await asyncio.gather(
        *(
            live.client.post(
                APPOINTMENTS,
                json=_body(live, patient, at(day, "14:00")),
                headers=live.staff.headers,
            )
            for patient in live.patients[2:42]
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 39}
    assert await _overlapping_active_pairs(live) == 0


async def _hold(live: Live, starts_at: str) -> str:
    """One online hold in a session and transaction of its own: ``held`` or ``refused``."""
    async with live.database.sessionmaker() as session:
        practitioner = await session.get(Practitioner, live.practitioner_id)
        kind = await session.get(AppointmentType, live.type_id)
        assert practitioner is not None and kind is not None
        location = await session.scalar(
            select(Location)
            .join(PractitionerLocation, PractitionerLocation.location_id == Location.id)
            .where(PractitionerLocation.practitioner_id == practitioner.id)
        )
        assert location is not None
        spot = booking.Place(
            patient_id=None,
            practitioner=practitioner,
            location=location,
            kind=kind,
            starts_at=datetime.fromisoformat(starts_at),
            source="online",
        )
        now = clock.utcnow()
        try:
            await booking.hold(session, spot, until=now + timedelta(minutes=10), now=now)
        except Conflict:
            return "refused"
        await session.commit()
        return "held"


async def test_50_online_holds_for_one_slot_keep_exactly_one(live: Live) -> None:
    day = next_monday(weeks_ahead=6)
    outcomes = await asyncio.gather(*(_hold(live, at(day, "10:00")) for _ in range(50)))
    assert Counter(outcomes) == {"held": 1, "refused": 49}
    # The front desk cannot book over it either.
    over = await live.client.post(
        APPOINTMENTS,
        json=_body(live, live.patients[0], at(day, "10:00")),
        headers=live.staff.headers,
    )
    assert over.status_code == 409
    assert await _overlapping_active_pairs(live) == 0
