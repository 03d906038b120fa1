"""Every error is application/problem+json (RFC 9457), and a 500 tells nothing inside."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.core.auth.roles import Role
from services.core.deps import SessionDep
from tests.factories import Factory

PROBLEM_KEYS = {"type", "title", "status", "instance"}


def _assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert str(body["type"]).startswith("https://")
    return body


async def test_401_403_404_405_422_are_problems(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    front_desk = await factory.staff(Role.front_desk)
    _assert_problem(await client.get("/api/v1/users"), 401)
    _assert_problem(await client.get("/api/v1/users", headers=front_desk.headers), 403)
    _assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    _assert_problem(await client.delete("/healthz"), 405)
    body = _assert_problem(await client.post("/api/v1/auth/token", data={}), 422)
    assert isinstance(body["errors"], list) and body["errors"]


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(
        "/api/v1/users",
        content=b"{not json",
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    _assert_problem(response, 422)


async def test_a_500_leaks_no_trace_sql_or_message(app: FastAPI, client: httpx.AsyncClient) -> None:
    secret = "Jordan Lee 1987-03-14"

    @app.get("/boom")
    async def boom(session: SessionDep) -> None:
        await session.execute(text("SELECT 1 FROM no_such_table_for_test"))
        raise RuntimeError(secret)

    response = await client.get("/boom")
    body = _assert_problem(response, 500)
    raw = response.text
    for leak in ("Traceback", "no_such_table", "SELECT", secret, "psycopg"):
        assert leak not in raw
    assert body["request_id"] == response.headers["x-request-id"]


async def test_an_unmapped_integrity_error_becomes_409(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user(Role.front_desk)

    @app.post("/dup")
    async def dup(session: SessionDep) -> None:
        await session.execute(
            text(
                "INSERT INTO users (email, full_name, password_hash, roles) "
                "VALUES (:email, 'x', 'x', ARRAY['admin'])"
            ),
            {"email": user.email},
        )

    body = _assert_problem(await client.post("/dup"), 409)
    assert body["constraint"] == "uq_users_email"
