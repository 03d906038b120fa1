from __future__ import annotations

from datetime import time

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import WorkingHours
from services.core.auth.roles import Role
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory


def _url(practitioner_id: object) -> str:
    return f"/api/v1/practitioners/{practitioner_id}/working-hours"


async def test_put_replaces_the_weekly_set_at_one_location(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    first = {
        "location_id": str(location.id),
        "hours": [
            {"weekday": 0, "start_time": "14:00", "end_time": "18:00"},
            {"weekday": 0, "start_time": "08:00", "end_time": "12:00"},
        ],
    }
    response = await client.put(_url(practitioner.id), json=first, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert [(h["start_time"], h["end_time"]) for h in response.json()] == [
        ("08:00", "12:00"),
        ("14:00", "18:00"),
    ]
    second = {
        "location_id": str(location.id),
        "hours": [{"weekday": 2, "start_time": "09:00", "end_time": "13:00"}],
    }
    assert (await client.put(_url(practitioner.id), json=second, headers=admin.headers)).is_success
    desk = await factory.staff(Role.front_desk)
    listed = await client.get(_url(practitioner.id), headers=desk.headers)
    assert [(h["weekday"], h["start_time"]) for h in listed.json()] == [(2, "09:00")]


async def test_overlap_with_another_location_is_409_naming_the_clash(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    here = await clinic.location(name="Lakeview Clinic")
    there = await clinic.location()
    practitioner = await clinic.practitioner(here, there)
    await clinic.hours(practitioner, here, [1], time(8), time(12))
    response = await client.put(
        _url(practitioner.id),
        json={
            "location_id": str(there.id),
            "hours": [{"weekday": 1, "start_time": "11:00", "end_time": "13:00"}],
        },
        headers=admin.headers,
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "Tuesday 11:00-13:00 overlaps Tuesday 08:00-12:00 at Lakeview Clinic" in detail
    adjacent = await client.put(
        _url(practitioner.id),
        json={
            "location_id": str(there.id),
            "hours": [{"weekday": 1, "start_time": "12:00", "end_time": "13:00"}],
        },
        headers=admin.headers,
    )
    assert adjacent.status_code == 200  # [08:00, 12:00) and [12:00, 13:00) only touch


async def test_the_database_refuses_overlapping_hours(
    session: AsyncSession, clinic: ClinicFactory
) -> None:
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    await clinic.hours(practitioner, location, [3], time(8), time(12))
    with pytest.raises(IntegrityError) as caught:
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO working_hours "
                    "(practitioner_id, location_id, weekday, start_time, end_time) "
                    "VALUES (:p, :l, 3, '11:59', '13:00')"
                ),
                {"p": practitioner.id, "l": location.id},
            )
    assert getattr(caught.value.orig, "sqlstate", None) == "23P01"


async def test_bad_blocks_are_422_with_paths(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    response = await client.put(
        _url(practitioner.id),
        json={
            "location_id": str(location.id),
            "hours": [
                {"weekday": 0, "start_time": "12:00", "end_time": "08:00"},
                {"weekday": 1, "start_time": "08:00", "end_time": "12:00"},
                {"weekday": 1, "start_time": "10:00", "end_time": "14:00"},
            ],
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    locations = [tuple(e["loc"]) for e in response.json()["errors"]]
    assert ("body", "hours", 0, "end_time") in locations
    assert ("body", "hours", 2) in locations
    schema = await client.put(
        _url(practitioner.id),
        json={
            "location_id": str(location.id),
            "hours": [{"weekday": 7, "start_time": "8am", "end_time": "12:00:00+02:00"}],
        },
        headers=admin.headers,
    )
    assert schema.status_code == 422
    assert {tuple(e["loc"]) for e in schema.json()["errors"]} == {
        ("body", "hours", 0, "weekday"),
        ("body", "hours", 0, "start_time"),
        ("body", "hours", 0, "end_time"),
    }


async def test_the_practitioner_must_work_at_the_location(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    here, elsewhere = await clinic.location(), await clinic.location()
    practitioner = await clinic.practitioner(here)
    response = await client.put(
        _url(practitioner.id),
        json={
            "location_id": str(elsewhere.id),
            "hours": [{"weekday": 0, "start_time": "08:00", "end_time": "12:00"}],
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "location_id"]


async def test_removing_a_location_removes_the_hours_there(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory, session: AsyncSession
) -> None:
    admin = await factory.staff(Role.admin)
    here, there = await clinic.location(), await clinic.location()
    practitioner = await clinic.practitioner(here, there)
    await clinic.hours(practitioner, here, range(5), time(8), time(12))
    url = f"/api/v1/practitioners/{practitioner.id}"
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    response = await client.patch(
        url, json={"location_ids": [str(there.id)]}, headers={**admin.headers, "If-Match": etag}
    )
    assert response.status_code == 200
    left = await session.scalars(
        select(WorkingHours.id).where(WorkingHours.practitioner_id == practitioner.id)
    )
    assert left.all() == []
