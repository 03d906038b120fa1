from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic import service
from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

LOCATIONS = "/api/v1/locations"


def _new_location(**overrides: object) -> dict[str, object]:
    return {
        "name": "Lakeview",
        "address": "1 Main St, Chicago",
        "phone": "(312) 555-0142",
        "time_zone": "America/Chicago",
        **overrides,
    }


async def test_admin_creates_a_location_staff_read_it(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(LOCATIONS, json=_new_location(), headers=admin.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["phone"] == "+13125550142"  # stored as E.164
    assert response.headers["etag"] == '"1"'
    desk = await factory.staff(Role.front_desk)
    read = await client.get(f"{LOCATIONS}/{created['id']}", headers=desk.headers)
    assert read.status_code == 200 and read.json()["name"] == "Lakeview"
    event = await session.scalar(select(AuditEvent).where(AuditEvent.resource_id == created["id"]))
    assert event is not None and event.action == "create"
    assert "1 Main St" not in str(event.detail)  # field names, never values


async def test_duplicate_name_is_409_whatever_its_case(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    assert (await client.post(LOCATIONS, json=_new_location(), headers=admin.headers)).is_success
    again = await client.post(LOCATIONS, json=_new_location(name="LAKEVIEW"), headers=admin.headers)
    assert again.status_code == 409
    assert "Lakeview" in again.json()["detail"] or "LAKEVIEW" in again.json()["detail"]


async def test_unknown_time_zone_and_bad_phone_are_422_with_paths(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        LOCATIONS,
        json=_new_location(time_zone="Mars/Olympus_Mons", phone="12", name="   "),
        headers=admin.headers,
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
    assert ("body", "time_zone") in errors
    assert "not a valid phone number" in errors[("body", "phone")]
    assert ("body", "name") in errors


async def test_mass_assignment_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        LOCATIONS,
        json=_new_location(id="00000000-0000-4000-8000-000000000000", version=7),
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "id"),
        ("body", "version"),
    }


async def test_update_needs_if_match_and_can_clear_the_phone(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    url = f"{LOCATIONS}/{location.id}"
    assert (await client.patch(url, json={"phone": None}, headers=admin.headers)).status_code == 428
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    changed = await client.patch(
        url,
        json={"phone": "+1 312 960 4400", "time_zone": "America/New_York"},
        headers={**admin.headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+13129604400"
    assert changed.json()["time_zone"] == "America/New_York"
    stale = await client.patch(
        url, json={"phone": None}, headers={**admin.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    cleared = await client.patch(
        url, json={"phone": None}, headers={**admin.headers, "If-Match": changed.headers["etag"]}
    )
    assert cleared.json()["phone"] is None


async def test_list_is_paginated_and_filters_active(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    staff = await factory.staff(Role.chiropractor)
    await clinic.location(active=False)
    for _ in range(2):
        await clinic.location()
    page = await client.get(LOCATIONS, params={"active": "true", "limit": 1}, headers=staff.headers)
    body = page.json()
    assert len(body["items"]) == 1 and body["has_more"] is True
    inactive = await client.get(LOCATIONS, params={"active": "false"}, headers=staff.headers)
    assert all(not item["is_active"] for item in inactive.json()["items"])


async def test_default_location_is_the_oldest_active_one(
    session: AsyncSession, clinic: ClinicFactory
) -> None:
    from sqlalchemy import func, text, update

    from services.clinic.models import Location

    await session.execute(update(Location).values(is_active=False))
    first = await clinic.location()
    # One test is one transaction, where now() never moves: age the first one by hand.
    await session.execute(
        update(Location)
        .where(Location.id == first.id)
        .values(created_at=func.now() - text("interval '1 day'"))
    )
    await clinic.location()
    found = await service.default_location(session)
    assert found is not None and found.id == first.id
    assert (await service.get_location(session, first.id)).name == first.name


async def test_rooms_are_unique_per_location_and_kinds_are_checked(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    here, there = await clinic.location(), await clinic.location()
    url = f"{LOCATIONS}/{here.id}/rooms"
    room = await client.post(
        url, json={"name": "Adjustment 1", "kind": "adjustment"}, headers=admin.headers
    )
    assert room.status_code == 201, room.text
    clash = await client.post(
        url, json={"name": "adjustment 1", "kind": "xray"}, headers=admin.headers
    )
    assert clash.status_code == 409
    elsewhere = await client.post(
        f"{LOCATIONS}/{there.id}/rooms",
        json={"name": "Adjustment 1", "kind": "adjustment"},
        headers=admin.headers,
    )
    assert elsewhere.status_code == 201
    bad = await client.post(url, json={"name": "Sauna", "kind": "sauna"}, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "kind"]
    patched = await client.patch(
        f"/api/v1/rooms/{room.json()['id']}",
        json={"kind": "consult", "is_active": False},
        headers=admin.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["kind"] == "consult" and patched.json()["is_active"] is False
    listed = await client.get(url, params={"active": "true"}, headers=admin.headers)
    assert listed.json()["items"] == []


async def test_unknown_location_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    staff = await factory.staff(Role.front_desk)
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"{LOCATIONS}/{missing}", headers=staff.headers)).status_code == 404
    rooms = await client.get(f"{LOCATIONS}/{missing}/rooms", headers=staff.headers)
    assert rooms.status_code == 404
