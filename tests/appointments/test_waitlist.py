from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from services.appointments import booking
from services.appointments.models import Appointment, WaitlistEntry
from services.appointments.waitlist import offer_freed_time
from services.clinic.models import AppointmentType
from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from services.core.errors import Conflict
from services.core.settings import Settings
from services.patients.models import Patient
from tests.appointments.conftest import Clinic, Scheduling, add_patient, at, booked, make_scheduling
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory, Staff
from tests.servers import TEMPLATE_DB, Servers

WAITLIST = "/api/v1/waitlist"
CHICAGO = ZoneInfo("America/Chicago")
MISSING = "00000000-0000-4000-8000-000000000000"


def today() -> date:
    return datetime.now(CHICAGO).date()


def body(scheduling: Scheduling, **overrides: Any) -> dict[str, Any]:
    return {
        "patient_id": str(scheduling.patient.id),
        "practitioner_id": str(scheduling.practitioner.id),
        "appointment_type_id": str(scheduling.appointment_type.id),
        "earliest_date": today().isoformat(),
        "latest_date": (today() + timedelta(days=14)).isoformat(),
        "note": "Mornings only; flare-ups on Mondays",
        **overrides,
    }


@pytest.fixture
async def desk(factory: Factory) -> Staff:
    return await factory.staff(Role.front_desk)


async def entry(
    scheduling: Scheduling,
    *,
    patient: Patient | None = None,
    practitioner_id: uuid.UUID | None = None,
    first: date,
    last: date | None = None,
    status: str = "waiting",
    appointment_type: AppointmentType | None = None,
    age: int = 0,
) -> WaitlistEntry:
    """A waitlist row straight through the ORM; ``age`` minutes old (older is offered first)."""
    at = datetime.now(UTC) - timedelta(minutes=age)
    created = WaitlistEntry(
        patient_id=(patient or await add_patient(scheduling.session)).id,
        practitioner_id=practitioner_id or scheduling.practitioner.id,
        appointment_type_id=appointment_type.id if appointment_type else None,
        earliest_date=first,
        latest_date=last or first,
        status=status,
        created_at=at,
        updated_at=at,
    )
    if status == "offered":
        created.offered_at = at
        created.offered_starts_at = at
    scheduling.session.add(created)
    await scheduling.session.flush()
    return created


async def test_staff_put_a_patient_on_the_waitlist(
    client: httpx.AsyncClient, scheduling: Scheduling, desk: Staff, session: AsyncSession
) -> None:
    response = await client.post(WAITLIST, json=body(scheduling), headers=desk.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "waiting"
    assert created["patient_id"] == str(scheduling.patient.id)
    assert created["created_by"] == str(desk.user.id)
    assert created["offered_appointment_id"] is None
    audited = await session.scalar(
        select(AuditEvent).where(AuditEvent.resource_id == created["id"])
    )
    assert audited is not None and audited.action == "create"
    assert audited.detail["patient_id"] == str(scheduling.patient.id)


@pytest.mark.parametrize("field", ["patient_id", "practitioner_id", "appointment_type_id"])
async def test_unknown_records_are_404_before_the_date_rules(
    client: httpx.AsyncClient, scheduling: Scheduling, desk: Staff, field: str
) -> None:
    backwards = {"earliest_date": "2020-02-01", "latest_date": "2020-01-01"}
    response = await client.post(
        WAITLIST, json=body(scheduling, **{field: MISSING}, **backwards), headers=desk.headers
    )
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("first", "last", "kind"),
    [(10, 9, "date_order"), (-10, -1, "date_in_past")],
)
async def test_dates_must_be_ordered_and_not_past(
    client: httpx.AsyncClient, scheduling: Scheduling, desk: Staff, first: int, last: int, kind: str
) -> None:
    dates = {
        "earliest_date": (today() + timedelta(days=first)).isoformat(),
        "latest_date": (today() + timedelta(days=last)).isoformat(),
    }
    response = await client.post(WAITLIST, json=body(scheduling, **dates), headers=desk.headers)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "latest_date"] and error["type"] == kind


async def test_the_list_shows_open_entries_oldest_first_and_audits_each(
    client: httpx.AsyncClient,
    scheduling: Scheduling,
    desk: Staff,
    session: AsyncSession,
    factory: Factory,
) -> None:
    day = today() + timedelta(days=3)
    offered = await entry(scheduling, first=day, status="offered", age=30)
    waiting = await entry(scheduling, first=day, patient=scheduling.patient, age=60)
    removed = await entry(scheduling, first=day, status="removed", age=90)
    booked = await entry(scheduling, first=day, status="booked", age=120)
    colleague = await ClinicFactory(factory).practitioner()
    elsewhere = await entry(scheduling, first=day, practitioner_id=colleague.id, age=10)

    async def ids(**params: str) -> list[str]:
        response = await client.get(WAITLIST, params=params, headers=desk.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    mine = str(scheduling.practitioner.id)
    assert await ids(practitioner_id=mine) == [str(waiting.id), str(offered.id)]
    assert await ids(practitioner_id=mine, status="removed") == [str(removed.id)]
    assert await ids(practitioner_id=mine, status="booked") == [str(booked.id)]
    assert await ids(patient_id=str(scheduling.patient.id)) == [str(waiting.id)]
    assert str(elsewhere.id) in await ids()
    page = await client.get(
        WAITLIST, params={"practitioner_id": mine, "limit": 1}, headers=desk.headers
    )
    assert page.json()["has_more"] is True
    listed = (
        await session.scalars(
            select(AuditEvent.resource_id).where(
                AuditEvent.action == "list", AuditEvent.resource_type == "waitlist_entry"
            )
        )
    ).all()
    # One row per entry shown, per request: the limit=1 page audits only what it shows.
    assert listed.count(str(waiting.id)) == 4
    assert listed.count(str(offered.id)) == 2
    assert listed.count(str(removed.id)) == 1


async def test_removing_keeps_the_entry(
    client: httpx.AsyncClient, scheduling: Scheduling, desk: Staff, session: AsyncSession
) -> None:
    created = (await client.post(WAITLIST, json=body(scheduling), headers=desk.headers)).json()
    for _ in range(2):
        removed = await client.delete(f"{WAITLIST}/{created['id']}", headers=desk.headers)
        assert removed.status_code == 204
    row = await session.get(WaitlistEntry, uuid.UUID(created["id"]))
    assert row is not None
    await session.refresh(row)
    assert row.status == "removed"
    actions = (
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == str(row.id))
        )
    ).all()
    assert sorted(actions) == ["create", "remove"]
    booked = await entry(scheduling, first=today(), status="booked")
    assert (await client.delete(f"{WAITLIST}/{booked.id}", headers=desk.headers)).status_code == 409
    assert (await client.delete(f"{WAITLIST}/{MISSING}", headers=desk.headers)).status_code == 404


def evening(day: date) -> datetime:
    """03:00 UTC the next morning: still ``day`` in Chicago (21:00 or 22:00 local)."""
    return datetime.combine(day + timedelta(days=1), time(3, 0), tzinfo=UTC)


async def cancel(appointment: Appointment, session: AsyncSession) -> None:
    appointment.status = "cancelled"
    appointment.cancel_reason = "patient"
    await session.flush()


async def test_freed_time_goes_to_the_oldest_fitting_entry(
    scheduling: Scheduling, session: AsyncSession, factory: Factory
) -> None:
    day = today() + timedelta(days=5)
    freed = await scheduling.appointment(evening(day), minutes=30)
    clinic = ClinicFactory(factory)
    long_type, short_type = await clinic.appointment_type(), await clinic.appointment_type()
    long_type.duration_minutes, short_type.duration_minutes = 60, 30
    colleague = await clinic.practitioner(scheduling.location)
    busy = await add_patient(session)
    await scheduling.appointment(evening(day), patient=busy, practitioner=colleague)
    # None of these may have it, although all are older than the winner:
    await entry(scheduling, first=day, patient=scheduling.patient, age=100)  # same patient
    await entry(scheduling, first=day, appointment_type=long_type, age=99)  # does not fit
    await entry(scheduling, first=day + timedelta(days=1), age=98)  # local date is ``day``
    await entry(scheduling, first=day - timedelta(days=9), last=day - timedelta(days=1), age=97)
    await entry(scheduling, first=day, practitioner_id=colleague.id, age=96)
    await entry(scheduling, first=day, status="removed", age=95)
    await entry(scheduling, first=day, status="offered", age=94)
    await entry(scheduling, first=day, patient=busy, age=93)  # has a visit at that time
    winner = await entry(scheduling, first=day, appointment_type=short_type, age=50)
    runner_up = await entry(scheduling, first=day - timedelta(days=2), last=day, age=40)

    await cancel(freed, session)
    offered = await offer_freed_time(session, freed)
    assert offered is not None and offered.id == winner.id
    assert offered.status == "offered"
    assert offered.offered_appointment_id == freed.id
    assert offered.offered_starts_at == freed.starts_at
    assert offered.offered_at is not None
    # One freed slot, one offer.
    assert await offer_freed_time(session, freed) is None
    await session.refresh(runner_up)
    assert runner_up.status == "waiting"


async def test_past_time_is_not_offered(scheduling: Scheduling, session: AsyncSession) -> None:
    yesterday = today() - timedelta(days=1)
    freed = await scheduling.appointment(datetime.now(UTC) - timedelta(hours=2))
    await entry(scheduling, first=yesterday - timedelta(days=1), last=today() + timedelta(days=1))
    await cancel(freed, session)
    assert await offer_freed_time(session, freed) is None


async def book(
    scheduling: Scheduling, factory: Factory, session: AsyncSession, starts_at: datetime
) -> Appointment:
    """A booking through the path every booking takes (``booking.place``)."""
    await ClinicFactory(factory).hours(
        scheduling.practitioner, scheduling.location, range(7), time(0), time(23, 59)
    )
    spot = booking.Place(
        patient_id=scheduling.patient.id,
        practitioner=scheduling.practitioner,
        location=scheduling.location,
        kind=scheduling.appointment_type,
        starts_at=starts_at,
    )
    return await booking.place(session, spot, actor_id=None, now=datetime.now(UTC))


async def test_a_refused_booking_closes_nothing(
    scheduling: Scheduling, session: AsyncSession, factory: Factory
) -> None:
    day = today() + timedelta(days=4)
    taken = await scheduling.appointment(evening(day))
    waiting = await entry(scheduling, patient=scheduling.patient, first=day)
    with pytest.raises(Conflict) as refused:
        await book(scheduling, factory, session, evening(day))
    assert refused.value.extra["clashing_appointment_id"] == str(taken.id)
    await session.refresh(waiting)
    assert waiting.status == "waiting"


async def test_a_booking_closes_the_patients_matching_entries(
    scheduling: Scheduling, session: AsyncSession, factory: Factory
) -> None:
    day = today() + timedelta(days=4)
    patient = scheduling.patient
    waiting = await entry(scheduling, patient=patient, first=day - timedelta(days=1), last=day)
    offered = await entry(scheduling, patient=patient, first=day, status="offered")
    later = await entry(scheduling, patient=patient, first=day + timedelta(days=1))
    removed = await entry(scheduling, patient=patient, first=day, status="removed")
    colleague = await ClinicFactory(factory).practitioner(scheduling.location)
    elsewhere = await entry(scheduling, patient=patient, first=day, practitioner_id=colleague.id)
    someone_else = await entry(scheduling, first=day)
    await book(scheduling, factory, session, evening(day))
    states = {}
    for row in (waiting, offered, later, removed, elsewhere, someone_else):
        await session.refresh(row)
        states[row.id] = row.status
    assert states == {
        waiting.id: "booked",
        offered.id: "booked",
        later.id: "waiting",
        removed.id: "removed",
        elsewhere.id: "waiting",
        someone_else.id: "waiting",
    }


# Concurrency needs committed rows and two connections: a scratch database of its own.
RACE_DB = "clinic_test_waitlist_race"


@pytest.fixture
async def race_engine(servers: Servers) -> AsyncIterator[AsyncEngine]:
    servers.recreate_database(RACE_DB, template=TEMPLATE_DB)
    engine = create_async_engine(servers.url_for(RACE_DB), poolclass=NullPool)
    yield engine
    await engine.dispose()
    servers.drop_database(RACE_DB)


async def test_two_cancellations_offer_two_entries_without_waiting(
    race_engine: AsyncEngine, settings: Settings
) -> None:
    day = today() + timedelta(days=6)
    async with AsyncSession(race_engine, expire_on_commit=False) as setup:
        scheduling = await make_scheduling(Factory(setup, settings))
        first = await scheduling.appointment(evening(day), status="cancelled")
        second = await scheduling.appointment(
            evening(day) + timedelta(minutes=30), status="cancelled"
        )
        oldest = await entry(scheduling, first=day, age=20)
        next_oldest = await entry(scheduling, first=day, age=10)
        await setup.commit()

    async with (
        AsyncSession(race_engine) as one,
        AsyncSession(race_engine) as two,
    ):
        got_one = await offer_freed_time(one, await one.get_one(Appointment, first.id))
        # ``one`` holds its lock on the oldest entry: ``two`` skips it instead of waiting.
        got_two = await asyncio.wait_for(
            offer_freed_time(two, await two.get_one(Appointment, second.id)), timeout=10
        )
        assert got_one is not None and got_one.id == oldest.id
        assert got_two is not None and got_two.id == next_oldest.id
        await one.commit()
        await two.commit()

    async with AsyncSession(race_engine) as check:
        rows = {
            e.id: e.offered_appointment_id
            for e in (await check.scalars(select(WaitlistEntry))).all()
        }
    assert rows == {oldest.id: first.id, next_oldest.id: second.id}


async def test_a_cancellation_offers_the_slot_and_booking_closes_the_entry(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """Through the API: the waiting patient is offered the freed Monday 09:00; when they
    book with that practitioner in their dates, their entry becomes booked."""
    waiting = clinic.patients[1]
    entry = await client.post(
        "/api/v1/waitlist",
        json={
            "patient_id": str(waiting.id),
            "practitioner_id": str(clinic.dr_a.id),
            "earliest_date": clinic.monday.isoformat(),
            "latest_date": (clinic.monday + timedelta(days=4)).isoformat(),
        },
        headers=clinic.desk.headers,
    )
    assert entry.status_code == 201, entry.text
    taken = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    # Moving 10 minutes later keeps most of the time taken: nothing to offer.
    moved = await client.post(
        f"/api/v1/appointments/{taken['id']}/reschedule",
        json={"starts_at": at(clinic.monday, "09:10")},
        headers=clinic.desk.headers,
    )
    assert moved.status_code == 201
    listed = await client.get("/api/v1/waitlist", headers=clinic.desk.headers)
    assert [e["status"] for e in listed.json()["items"]] == ["waiting"]
    cancelled = await client.post(
        f"/api/v1/appointments/{moved.json()['id']}/cancel",
        json={"reason": "illness"},
        headers=clinic.desk.headers,
    )
    assert cancelled.status_code == 200
    listed = await client.get("/api/v1/waitlist", headers=clinic.desk.headers)
    (offered,) = listed.json()["items"]
    assert offered["status"] == "offered"
    assert offered["offered_appointment_id"] == moved.json()["id"]
    await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "09:10"), patient_id=str(waiting.id))
    )
    closed = await client.get(
        "/api/v1/waitlist", params={"status": "booked"}, headers=clinic.desk.headers
    )
    assert [e["id"] for e in closed.json()["items"]] == [entry.json()["id"]]
