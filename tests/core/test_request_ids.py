"""X-Request-ID and X-Forwarded-For are believed only from CLINIC_TRUSTED_PROXIES, judged by
the socket peer; from anyone else the server makes its own id and logs the caller's apart."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.app import create_app
from services.core.auth.roles import Role
from services.core.database import Database
from services.core.settings import Settings
from tests.factories import Factory
from tests.live import asgi_client

PROXY = ("10.0.0.5", 40000)
STRANGER = ("198.51.100.20", 40000)


def _behind_proxy(settings: Settings, database: Database) -> FastAPI:
    return create_app(
        settings.model_copy(update={"trusted_proxies": "10.0.0.0/24, ::1"}), database=database
    )


def _request_line(out: str) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        json.loads(line) for line in out.splitlines() if line.startswith("{")
    ]
    (request,) = [line for line in lines if line.get("event") == "request"]
    return request


@pytest.mark.parametrize("peer", [PROXY, ("::1", 40000)], ids=["ipv4-network", "ipv6"])
async def test_a_trusted_proxy_s_request_id_is_kept(
    settings: Settings,
    database: Database,
    capsys: pytest.CaptureFixture[str],
    peer: tuple[str, int],
) -> None:
    async with asgi_client(_behind_proxy(settings, database), peer=peer) as client:
        capsys.readouterr()
        response = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2"})
    assert response.headers["x-request-id"] == "lb-7f3a.2"
    logged = _request_line(capsys.readouterr().out)
    assert logged["request_id"] == "lb-7f3a.2"
    assert "caller_request_id" not in logged


@pytest.mark.parametrize("peer", [STRANGER, ("127.0.0.1", 123)], ids=["stranger", "localhost"])
async def test_anyone_else_gets_the_server_s_id_and_theirs_is_logged_apart(
    settings: Settings,
    database: Database,
    capsys: pytest.CaptureFixture[str],
    peer: tuple[str, int],
) -> None:
    async with asgi_client(_behind_proxy(settings, database), peer=peer) as client:
        capsys.readouterr()
        response = await client.get("/healthz", headers={"X-Request-ID": "chosen-by-caller"})
    own = response.headers["x-request-id"]
    assert own != "chosen-by-caller"
    assert len(own) == 32 and int(own, 16) >= 0
    logged = _request_line(capsys.readouterr().out)
    assert logged["request_id"] == own
    assert logged["caller_request_id"] == "chosen-by-caller"


async def test_the_caller_s_id_is_sanitised_before_it_is_logged(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await client.get("/healthz", headers={"X-Request-ID": 'a b"c}<script>' + "x" * 200})
    logged = _request_line(capsys.readouterr().out)
    assert logged["caller_request_id"] == "abcscript" + "x" * 55
    capsys.readouterr()
    await client.get("/healthz", headers={"X-Request-ID": "{}<>"})
    assert "caller_request_id" not in _request_line(capsys.readouterr().out)


async def test_an_unsafe_id_from_the_proxy_is_replaced(
    settings: Settings, database: Database
) -> None:
    async with asgi_client(_behind_proxy(settings, database), peer=PROXY) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["x-request-id"] != "bad id with spaces"
    assert len(response.headers["x-request-id"]) == 32


async def _audited_create(
    client: httpx.AsyncClient, factory: Factory, email: str
) -> dict[str, Any]:
    admin = await factory.staff(Role.admin)
    created = await client.post(
        "/api/v1/users",
        json={
            "email": email,
            "full_name": "Audited",
            "password": "a long enough passphrase",
            "roles": ["chiropractor"],
        },
        headers={
            **admin.headers,
            "X-Request-ID": "req-audit-1",
            "X-Forwarded-For": "203.0.113.7",
        },
    )
    assert created.status_code == 201, created.text
    trail = await client.get(
        "/api/v1/audit-events",
        params={"resource_type": "user", "resource_id": created.json()["id"]},
        headers=admin.headers,
    )
    (event,) = trail.json()["items"]
    return {**event, "answered_id": created.headers["x-request-id"]}


async def test_the_audit_trail_believes_the_proxy_only(
    settings: Settings, database: Database, factory: Factory
) -> None:
    app = _behind_proxy(settings, database)
    async with asgi_client(app, peer=PROXY) as client:
        proxied = await _audited_create(client, factory, "via-proxy@balanced-atlas.example")
    async with asgi_client(app, peer=STRANGER) as client:
        direct = await _audited_create(client, factory, "direct@balanced-atlas.example")
    assert (proxied["client_addr"], proxied["request_id"]) == ("203.0.113.7", "req-audit-1")
    assert direct["client_addr"] == STRANGER[0]
    assert direct["request_id"] == direct["answered_id"] != "req-audit-1"
