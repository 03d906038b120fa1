"""No PHI in logs: exception messages are dropped, requests are logged by route template."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog

from services.core.auth.roles import Role
from services.core.logging import configure_logging
from tests.factories import Factory

PHI = "Jordan Lee 1987-03-14"


def _lines(captured: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_exception_messages_never_reach_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        raise ValueError(f"duplicate key: {PHI}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        structlog.get_logger("clinic").error("failed", exc_info=True)
    out = capsys.readouterr().out
    assert PHI not in out
    records = _lines(out)
    assert [r["error_type"] for r in records] == ["ValueError", "ValueError"]
    assert all(r["where"] for r in records)


async def test_request_logs_carry_the_template_not_the_query(
    client: httpx.AsyncClient, factory: Factory, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = await factory.staff(Role.admin)
    capsys.readouterr()
    await client.get("/api/v1/audit-events", params={"resource_id": PHI}, headers=admin.headers)
    out = capsys.readouterr().out
    assert PHI not in out
    (request,) = [r for r in _lines(out) if r.get("event") == "request"]
    assert request["route"] == "/api/v1/audit-events"
    assert request["request_id"]
