from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core import audit
from services.core.auth.roles import Role
from tests.factories import Factory

TAMPERING = (
    "UPDATE audit_events SET action = 'tampered' WHERE resource_type = 'probe'",
    "DELETE FROM audit_events WHERE resource_type = 'probe'",
    "TRUNCATE audit_events",
)


async def _refused(engine: AsyncEngine, statements: dict[str, str]) -> None:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            text("INSERT INTO audit_events (action, resource_type) VALUES ('read', 'probe')")
        )
        for statement, refusal in statements.items():
            savepoint = await connection.begin_nested()
            with pytest.raises(DBAPIError, match=refusal):
                await connection.execute(text(statement))
            await savepoint.rollback()
        left = await connection.scalar(
            text("SELECT action FROM audit_events WHERE resource_type = 'probe'")
        )
        assert left == "read"
        await transaction.rollback()


async def test_the_app_cannot_change_or_remove_audit_rows(engine: AsyncEngine) -> None:
    """The app's own login: no privilege to change rows, nor to switch the trigger off."""
    await _refused(
        engine,
        {statement: "permission denied for table audit_events" for statement in TAMPERING}
        | {
            "SET LOCAL session_replication_role = replica": "permission denied to set parameter",
            "ALTER TABLE audit_events DISABLE TRIGGER ALL": "must be owner",
            "DROP TABLE audit_events": "must be owner",
        },
    )


async def test_even_the_owner_cannot_change_audit_rows(owner_session: AsyncSession) -> None:
    """The trigger holds for the owner too (migrations, a DBA's session)."""
    await owner_session.execute(
        text("INSERT INTO audit_events (action, resource_type) VALUES ('read', 'probe')")
    )
    for statement in TAMPERING:
        with pytest.raises(DBAPIError, match="append-only"):
            async with owner_session.begin_nested():
                await owner_session.execute(text(statement))


async def test_admin_reads_the_trail_filtered_by_resource_and_actor(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    admin = await factory.staff(Role.admin)
    chiro = await factory.user(Role.chiropractor)
    for action in ("read", "update"):
        await audit.record(
            session,
            actor_id=chiro.id,
            action=action,
            resource_type="patient",
            resource_id="p-123",
            client=None,
        )
    await session.flush()
    response = await client.get(
        "/api/v1/audit-events",
        params={"resource_type": "patient", "resource_id": "p-123"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["action"] for item in items] == ["update", "read"]  # newest first
    assert {item["actor_id"] for item in items} == {str(chiro.id)}
    by_actor = await client.get(
        "/api/v1/audit-events", params={"actor_id": str(chiro.id)}, headers=admin.headers
    )
    assert len(by_actor.json()["items"]) == 2


async def test_time_filters_need_an_offset(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    naive = await client.get(
        "/api/v1/audit-events", params={"from": "2026-01-01T00:00:00"}, headers=admin.headers
    )
    assert naive.status_code == 422
    aware = await client.get(
        "/api/v1/audit-events", params={"from": "2026-01-01T00:00:00Z"}, headers=admin.headers
    )
    assert aware.status_code == 200


async def test_requests_leave_the_client_address_and_request_id(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    created = await client.post(
        "/api/v1/users",
        json={
            "email": "audited@balanced-atlas.example",
            "full_name": "Audited",
            "password": "a long enough passphrase",
            "roles": ["chiropractor"],
        },
        headers=admin.headers,
    )
    trail = await client.get(
        "/api/v1/audit-events",
        params={"resource_type": "user", "resource_id": created.json()["id"]},
        headers=admin.headers,
    )
    (event,) = trail.json()["items"]
    assert event["request_id"] == created.headers["x-request-id"]
    assert event["client_addr"] == "127.0.0.1"
    assert event["action"] == "create"


@pytest.mark.parametrize("role", [Role.front_desk, Role.chiropractor])
async def test_only_admins_read_the_trail(
    client: httpx.AsyncClient, factory: Factory, role: Role
) -> None:
    staff = await factory.staff(role)
    assert (await client.get("/api/v1/audit-events", headers=staff.headers)).status_code == 403
