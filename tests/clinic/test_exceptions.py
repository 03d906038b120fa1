from __future__ import annotations

import httpx

from services.core.auth.roles import Role
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory


def _url(practitioner_id: object) -> str:
    return f"/api/v1/practitioners/{practitioner_id}/exceptions"


async def test_whole_days_off_are_read_in_the_locations_zone(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location(time_zone="America/New_York")
    practitioner = await clinic.practitioner(location)
    # 2026-03-08 is 23 hours long in New York: the range must say so.
    response = await client.post(
        _url(practitioner.id),
        json={"kind": "time_off", "start_date": "2026-03-08", "end_date": "2026-03-08"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["starts_at"].startswith("2026-03-08T05:00:00")
    assert created["ends_at"].startswith("2026-03-09T04:00:00")
    assert created["location_id"] is None


async def test_exact_times_list_and_delete(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    created = await client.post(
        _url(practitioner.id),
        json={
            "kind": "extra_hours",
            "location_id": str(location.id),
            "starts_at": "2026-05-02T09:00:00-05:00",
            "ends_at": "2026-05-02T12:00:00-05:00",
            "reason": "Saturday clinic",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    desk = await factory.staff(Role.front_desk)
    window = {"from": "2026-05-01T00:00:00Z", "to": "2026-05-03T00:00:00Z"}
    listed = await client.get(_url(practitioner.id), params=window, headers=desk.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
    later = await client.get(
        _url(practitioner.id), params={"from": "2026-06-01T00:00:00Z"}, headers=desk.headers
    )
    assert later.json()["items"] == []
    url = f"/api/v1/schedule-exceptions/{created.json()['id']}"
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.delete(url, headers=admin.headers)).status_code == 404


async def test_bad_exceptions_are_422(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    url = _url(practitioner.id)
    no_location = await client.post(
        url,
        json={
            "kind": "extra_hours",
            "starts_at": "2026-05-02T09:00:00Z",
            "ends_at": "2026-05-02T12:00:00Z",
        },
        headers=admin.headers,
    )
    assert no_location.status_code == 422
    assert no_location.json()["errors"][0]["loc"] == ["body", "location_id"]
    backwards = await client.post(
        url,
        json={
            "kind": "time_off",
            "starts_at": "2026-05-02T12:00:00Z",
            "ends_at": "2026-05-02T09:00:00Z",
        },
        headers=admin.headers,
    )
    assert backwards.status_code == 422
    mixed = await client.post(
        url,
        json={"kind": "time_off", "starts_at": "2026-05-02T12:00:00Z", "end_date": "2026-05-03"},
        headers=admin.headers,
    )
    assert mixed.status_code == 422
    naive = await client.post(
        url,
        json={
            "kind": "time_off",
            "starts_at": "2026-05-02T09:00:00",
            "ends_at": "2026-05-02T12:00:00",
        },
        headers=admin.headers,
    )
    assert naive.status_code == 422
    assert ["body", "starts_at"] in [e["loc"] for e in naive.json()["errors"]]
