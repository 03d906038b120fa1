from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from tests.factories import Factory

USERS = "/api/v1/users"


def _new_user(**overrides: object) -> dict[str, object]:
    return {
        "email": "new.person@balanced-atlas.example",
        "full_name": "New Person",
        "password": "a long enough passphrase",
        "roles": ["front_desk"],
        **overrides,
    }


async def test_admin_creates_a_user_who_can_sign_in(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(USERS, json=_new_user(), headers=admin.headers)
    assert response.status_code == 201
    created = response.json()
    assert created["roles"] == ["front_desk"]
    assert "password" not in created and "password_hash" not in created
    assert response.headers["etag"] == '"1"'
    login = await client.post(
        "/api/v1/auth/token",
        data={
            "username": "new.person@balanced-atlas.example",
            "password": "a long enough passphrase",
        },
    )
    assert login.status_code == 200
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == created["id"], AuditEvent.action == "create"
        )
    )
    assert event is not None and event.actor_id == admin.user.id


async def test_duplicate_email_is_409_whatever_its_case(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    assert (await client.post(USERS, json=_new_user(), headers=admin.headers)).status_code == 201
    again = await client.post(
        USERS, json=_new_user(email="NEW.PERSON@balanced-atlas.example"), headers=admin.headers
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_bad_fields_are_422_with_their_paths(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        USERS,
        json=_new_user(email="not-an-email", password="short", roles=["janitor"]),
        headers=admin.headers,
    )
    assert response.status_code == 422
    locations = [tuple(error["loc"]) for error in response.json()["errors"]]
    assert ("body", "email") in locations
    assert ("body", "password") in locations
    assert ("body", "roles", 0) in locations


async def test_update_needs_if_match_and_refuses_a_stale_one(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    target = await factory.user(Role.front_desk)
    url = f"{USERS}/{target.id}"
    missing = await client.patch(url, json={"full_name": "X"}, headers=admin.headers)
    assert missing.status_code == 428
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    first = await client.patch(
        url, json={"full_name": "Renamed"}, headers={**admin.headers, "If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    stale = await client.patch(
        url, json={"full_name": "Lost update"}, headers={**admin.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == first.headers["etag"]
    assert (await client.get(url, headers=admin.headers)).json()["full_name"] == "Renamed"


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    from sqlalchemy import update

    from services.core.auth.models import User

    admin = await factory.staff(Role.admin)
    # Make this the only active admin in the test's view of the database.
    await session.execute(update(User).where(User.id != admin.user.id).values(is_active=False))
    url = f"{USERS}/{admin.user.id}"
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    demote = await client.patch(
        url, json={"roles": ["front_desk"]}, headers={**admin.headers, "If-Match": etag}
    )
    assert demote.status_code == 409
    deactivate = await client.patch(
        url, json={"is_active": False}, headers={**admin.headers, "If-Match": etag}
    )
    assert deactivate.status_code == 409
    second = await factory.staff(Role.admin)
    demote_now = await client.patch(
        url, json={"roles": ["chiropractor"]}, headers={**second.headers, "If-Match": etag}
    )
    assert demote_now.status_code == 200


async def test_a_password_change_ends_the_users_sessions(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    target = await factory.staff(Role.chiropractor)
    url = f"{USERS}/{target.user.id}"
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    response = await client.patch(
        url,
        json={"password": "a brand new passphrase"},
        headers={**admin.headers, "If-Match": etag},
    )
    assert response.status_code == 200
    assert (await client.get("/api/v1/me", headers=target.headers)).status_code == 401


async def test_list_is_paginated_and_filterable(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    for _ in range(3):
        await factory.user(Role.chiropractor)
    page = await client.get(
        USERS, params={"role": "chiropractor", "limit": 2}, headers=admin.headers
    )
    assert page.status_code == 200
    body = page.json()
    assert len(body["items"]) == 2 and body["has_more"] is True
    assert all("chiropractor" in item["roles"] for item in body["items"])
    capped = await client.get(USERS, params={"limit": 1000}, headers=admin.headers)
    assert capped.status_code == 422


async def test_unknown_user_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.get(
        f"{USERS}/00000000-0000-4000-8000-000000000000", headers=admin.headers
    )
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
