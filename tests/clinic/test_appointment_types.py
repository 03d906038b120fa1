from __future__ import annotations

import httpx

from services.core.auth.roles import Role
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

TYPES = "/api/v1/appointment-types"


async def test_create_read_and_update(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        TYPES,
        json={
            "name": "Re-exam",
            "duration_minutes": 30,
            "buffer_after_minutes": 10,
            "room_kind": "adjustment",
            "colour": "#e1bc29",
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["colour"] == "#E1BC29" and created["is_new_patient"] is False
    url = f"{TYPES}/{created['id']}"
    chiro = await factory.staff(Role.chiropractor)
    read = await client.get(url, headers=chiro.headers)
    assert read.status_code == 200
    changed = await client.patch(
        url,
        json={"room_kind": None, "duration_minutes": 45},
        headers={**admin.headers, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["room_kind"] is None and changed.json()["duration_minutes"] == 45
    await clinic.appointment_type(name="X-ray review")
    clash = await client.patch(
        url,
        json={"name": "x-ray REVIEW"},
        headers={**admin.headers, "If-Match": changed.headers["etag"]},
    )
    assert clash.status_code == 409


async def test_out_of_range_values_are_422(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        TYPES,
        json={
            "name": "Marathon",
            "duration_minutes": 481,
            "buffer_before_minutes": -1,
            "room_kind": "spa",
            "colour": "red",
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "duration_minutes"),
        ("body", "buffer_before_minutes"),
        ("body", "room_kind"),
        ("body", "colour"),
    }


async def test_duplicate_name_is_409(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    await clinic.appointment_type(name="Re-exam")
    response = await client.post(
        TYPES, json={"name": "RE-EXAM", "duration_minutes": 30}, headers=admin.headers
    )
    assert response.status_code == 409
    listed = await client.get(TYPES, params={"active": "true"}, headers=admin.headers)
    assert "Re-exam" in [item["name"] for item in listed.json()["items"]]
