from __future__ import annotations

import httpx

from services.core.auth.roles import Role
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

PRACTITIONERS = "/api/v1/practitioners"


async def test_admin_creates_a_practitioner_for_a_chiropractor(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    doctor = await factory.user(Role.chiropractor)
    location = await clinic.location()
    body = {
        "user_id": str(doctor.id),
        "display_name": "Dr. Ana Reyes",
        "credentials": "DC",
        "location_ids": [str(location.id), str(location.id)],
    }
    response = await client.post(PRACTITIONERS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["location_ids"] == [str(location.id)]
    again = await client.post(PRACTITIONERS, json=body, headers=admin.headers)
    assert again.status_code == 409
    reader = await factory.staff(Role.chiropractor)
    read = await client.get(f"{PRACTITIONERS}/{created['id']}", headers=reader.headers)
    assert read.status_code == 200 and read.json()["display_name"] == "Dr. Ana Reyes"


async def test_the_user_must_hold_the_chiropractor_role(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    desk = await factory.user(Role.front_desk)
    response = await client.post(
        PRACTITIONERS, json={"user_id": str(desk.id), "display_name": "Sam"}, headers=admin.headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert "chiropractor role" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "user_id"]


async def test_unknown_user_or_location_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    doctor = await factory.user(Role.chiropractor)
    missing = "00000000-0000-4000-8000-000000000000"
    no_user = await client.post(
        PRACTITIONERS, json={"user_id": missing, "display_name": "X"}, headers=admin.headers
    )
    assert no_user.status_code == 404
    no_location = await client.post(
        PRACTITIONERS,
        json={"user_id": str(doctor.id), "display_name": "X", "location_ids": [missing]},
        headers=admin.headers,
    )
    assert no_location.status_code == 404
    assert "location_ids" in no_location.json()["detail"]


async def test_patch_replaces_locations_and_moves_the_etag(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    here, there = await clinic.location(), await clinic.location()
    practitioner = await clinic.practitioner(here)
    url = f"{PRACTITIONERS}/{practitioner.id}"
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    response = await client.patch(
        url,
        json={"location_ids": [str(there.id)], "credentials": None},
        headers={**admin.headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["location_ids"] == [str(there.id)]
    assert response.json()["credentials"] is None
    assert response.headers["etag"] != etag
    by_location = await client.get(
        PRACTITIONERS, params={"location_id": str(here.id)}, headers=admin.headers
    )
    assert by_location.json()["items"] == []


async def test_list_filters_active(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    staff = await factory.staff(Role.front_desk)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    response = await client.get(
        PRACTITIONERS,
        params={"location_id": str(location.id), "active": "true"},
        headers=staff.headers,
    )
    assert [item["id"] for item in response.json()["items"]] == [str(practitioner.id)]
