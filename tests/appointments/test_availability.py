"""Availability: hours, busy time with buffers, rooms, notice, and DST days."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.availability import Busy, grid_starts
from services.clinic.models import AppointmentType, ScheduleException
from tests.appointments.conftest import Clinic, at, booked
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

AVAILABILITY = "/api/v1/availability"
UTC_ZONE = ZoneInfo("UTC")


async def slots(client: httpx.AsyncClient, clinic: Clinic, **params: Any) -> list[dict[str, Any]]:
    query = {"appointment_type_id": str(clinic.adjustment.id), **params}
    response = await client.get(AVAILABILITY, params=query, headers=clinic.desk.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["slots"]
    return found


def local_times(found: list[dict[str, Any]]) -> list[str]:
    return [s["starts_at"][11:16] for s in found]


def one_day(clinic: Clinic, day: date | None = None) -> dict[str, str]:
    day = day or clinic.monday
    return {"from": at(day, "00:00"), "to": at(day + timedelta(days=1), "00:00")}


async def test_a_free_day_is_the_working_hours_on_the_grid(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    found = await slots(client, clinic, practitioner_id=str(clinic.dr_a.id), **one_day(clinic))
    times = local_times(found)
    assert times[0] == "08:00" and times[-1] == "16:30"  # a 30-minute visit ends by 17:00
    assert len(times) == 6 * 9 - 2  # every 10 minutes from 08:00 to 16:30
    assert found[0]["starts_at"] == at(clinic.monday, "08:00")  # local offset, ISO 8601
    assert found[0]["room_id"] == str(clinic.rooms[0].id)


async def test_booked_time_and_buffers_are_not_offered(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    # An exam 09:00-10:00 holds Dr. A until 10:10 (10 minutes after).
    await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "09:00"), appointment_type_id=str(clinic.exam.id)),
    )
    times = local_times(
        await slots(client, clinic, practitioner_id=str(clinic.dr_a.id), **one_day(clinic))
    )
    assert "08:30" in times  # ends 09:00: back to back
    assert "08:40" not in times and "10:00" not in times
    assert "10:10" in times


async def test_without_a_practitioner_every_one_is_offered_and_first_is_the_earliest(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "08:00")))
    found = await slots(client, clinic, location_id=str(clinic.location.id), **one_day(clinic))
    at_eight = [s["practitioner_id"] for s in found if s["starts_at"][11:16] == "08:00"]
    assert at_eight == [str(clinic.dr_b.id)]
    first = await slots(client, clinic, first="true", **one_day(clinic))
    assert len(first) == 1
    assert first[0]["practitioner_id"] == str(clinic.dr_b.id)
    assert first[0]["starts_at"] == at(clinic.monday, "08:00")


async def test_no_free_room_means_no_slot(client: httpx.AsyncClient, clinic: Clinic) -> None:
    for n, practitioner in enumerate([clinic.dr_a, clinic.dr_b]):
        await booked(
            client,
            clinic.desk,
            clinic.body(
                at(clinic.monday, "12:00"),
                practitioner_id=str(practitioner.id),
                patient_id=str(clinic.patients[n].id),
            ),
        )
    # Dr. A is busy at 12:00 anyway; a third practitioner would find no adjustment room.
    times = local_times(
        await slots(client, clinic, practitioner_id=str(clinic.dr_b.id), **one_day(clinic))
    )
    assert "11:30" in times and "12:00" not in times and "12:20" not in times


async def test_time_off_and_minimum_notice(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    start = datetime.combine(clinic.monday, time(8), tzinfo=ZoneInfo("America/Chicago"))
    session.add(
        ScheduleException(
            practitioner_id=clinic.dr_a.id,
            kind="time_off",
            starts_at=start,
            ends_at=start + timedelta(hours=4),
        )
    )
    await session.flush()
    times = local_times(
        await slots(client, clinic, practitioner_id=str(clinic.dr_a.id), **one_day(clinic))
    )
    assert times[0] == "12:00"
    # Nothing sooner than the minimum notice (60 minutes by default), even if asked.
    now = datetime.now(UTC_ZONE)
    found = await slots(
        client,
        clinic,
        practitioner_id=str(clinic.dr_a.id),
        **{"from": now.isoformat(), "to": (now + timedelta(days=7)).isoformat()},
    )
    assert all(datetime.fromisoformat(s["starts_at"]) >= now + timedelta(minutes=59) for s in found)


async def test_bad_windows_are_422_after_the_ids_are_known(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    backwards = {"from": at(clinic.monday, "12:00"), "to": at(clinic.monday, "08:00")}
    response = await client.get(
        AVAILABILITY,
        params={"appointment_type_id": str(clinic.adjustment.id), **backwards},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "to"]
    too_long = {
        "from": at(clinic.monday, "00:00"),
        "to": at(clinic.monday + timedelta(days=40), "00:00"),
    }
    response = await client.get(
        AVAILABILITY,
        params={"appointment_type_id": str(clinic.adjustment.id), **too_long},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 422
    unknown = await client.get(
        AVAILABILITY,
        params={"appointment_type_id": str(uuid.uuid4()), **backwards},
        headers=clinic.desk.headers,
    )
    assert unknown.status_code == 404


async def _dst_clinic(factory: Factory, session: AsyncSession, start: time, end: time) -> Clinic:
    """A Sunday-night practitioner in America/Chicago (weekly hours on weekday 6)."""
    setup = ClinicFactory(factory)
    location = await setup.location(time_zone="America/Chicago")
    practitioner = await setup.practitioner(location)
    await setup.hours(practitioner, location, [6], start, end)
    kind = AppointmentType(
        name=f"DST visit {uuid.uuid4().hex[:6]}", duration_minutes=30, colour="#000000"
    )
    session.add(kind)
    await session.flush()
    staff = await factory.staff()
    return Clinic(
        location=location,
        dr_a=practitioner,
        dr_b=practitioner,
        adjustment=kind,
        exam=kind,
        rooms=[],
        patients=[],
        desk=staff,
        chiro=staff,
        admin=staff,
        monday=date.today(),
    )


async def _sunday_slots(client: httpx.AsyncClient, clinic: Clinic, day: date) -> list[str]:
    zone = ZoneInfo("America/Chicago")
    window = {
        "from": datetime.combine(day, time(0), tzinfo=zone).isoformat(),
        "to": datetime.combine(day, time(12), tzinfo=zone).isoformat(),
    }
    response = await client.get(
        AVAILABILITY,
        params={
            "appointment_type_id": str(clinic.adjustment.id),
            "practitioner_id": str(clinic.dr_a.id),
            "grid": 30,
            **window,
        },
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200, response.text
    return [s["starts_at"][11:] for s in response.json()["slots"]]


async def test_spring_forward_skips_the_missing_hour(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    clinic = await _dst_clinic(factory, session, time(1), time(4))
    # 2027-03-14: 02:00 CST jumps to 03:00 CDT. 01:00-04:00 on the wall is two real hours.
    found = await _sunday_slots(client, clinic, date(2027, 3, 14))
    assert found == ["01:00:00-06:00", "01:30:00-06:00", "03:00:00-05:00", "03:30:00-05:00"]


async def test_fall_back_offers_the_repeated_hour_twice(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    clinic = await _dst_clinic(factory, session, time(0), time(3))
    # 2027-11-07: 02:00 CDT falls back to 01:00 CST. 00:00-03:00 on the wall is four hours.
    found = await _sunday_slots(client, clinic, date(2027, 11, 7))
    assert found == [
        "00:00:00-05:00",
        "00:30:00-05:00",
        "01:00:00-05:00",
        "01:30:00-05:00",
        "01:00:00-06:00",
        "01:30:00-06:00",
        "02:00:00-06:00",
        "02:30:00-06:00",
    ]


def test_busy_overlap_is_half_open() -> None:
    base = datetime(2030, 1, 7, 9, tzinfo=UTC_ZONE)
    busy = Busy(
        [
            (base, base + timedelta(minutes=30)),
            (base + timedelta(hours=1), base + timedelta(hours=2)),
        ]
    )
    assert busy.is_free((base - timedelta(minutes=30), base))
    assert busy.is_free((base + timedelta(minutes=30), base + timedelta(hours=1)))
    assert not busy.is_free((base + timedelta(minutes=29), base + timedelta(minutes=31)))
    assert not busy.is_free((base - timedelta(hours=1), base + timedelta(hours=3)))
    assert not busy.is_free((base + timedelta(minutes=70), base + timedelta(minutes=80)))


minutes = st.integers(min_value=0, max_value=600)


@given(
    busy=st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=90)), max_size=12),
    helds=st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=90)), max_size=40),
)
def test_one_walk_answers_as_each_overlap_test_would(
    busy: list[tuple[int, int]], helds: list[tuple[int, int]]
) -> None:
    base = datetime(2030, 1, 7, 9, tzinfo=UTC_ZONE)

    def interval(start: int, length: int) -> tuple[datetime, datetime]:
        return (base + timedelta(minutes=start), base + timedelta(minutes=start + length))

    taken = Busy([interval(*b) for b in busy])
    asked = sorted(interval(*h) for h in helds)
    assert taken.free_during(asked) == [taken.is_free(h) for h in asked]


def test_grid_follows_local_wall_clock() -> None:
    zone = ZoneInfo("Asia/Kolkata")  # UTC+05:30: a UTC grid would offer 09:10 as 14:40
    start = datetime(2030, 1, 7, 3, 35, tzinfo=UTC_ZONE)  # 09:05 local
    found = list(grid_starts((start, start + timedelta(minutes=40)), timedelta(minutes=15), zone))
    assert [f.astimezone(zone).strftime("%H:%M") for f in found] == ["09:15", "09:30"]
