from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.app import create_app
from services.core.database import Database
from services.core.settings import Settings


async def test_healthz_answers_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def _readyz(settings: Settings, **overrides: str) -> httpx.Response:
    settings = settings.model_copy(update={**overrides, "health_timeout_seconds": 1.0})
    assert settings.database_url
    database = Database(create_async_engine(settings.database_url, poolclass=NullPool))
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clinic.test") as client:
        response = await client.get("/readyz")
    await database.dispose()
    return response


async def test_readyz_is_503_naming_the_database_when_it_is_unreachable(
    settings: Settings,
) -> None:
    response = await _readyz(
        settings, database_url="postgresql+psycopg://postgres@127.0.0.1:9/nowhere"
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["failing"] == ["database"]


async def test_readyz_is_503_naming_redis_when_it_is_unreachable(settings: Settings) -> None:
    response = await _readyz(settings, redis_url="redis://127.0.0.1:9/0")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


async def test_metrics_label_routes_by_template_not_by_id(client: httpx.AsyncClient) -> None:
    marker = "00000000-0000-4000-8000-00000000abcd"
    await client.get(f"/api/v1/users/{marker}")
    body = (await client.get("/metrics")).text
    assert 'route="/api/v1/users/{user_id}"' in body
    assert marker not in body
    assert "clinic_http_request_duration_seconds_bucket" in body


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    """The server's own (tests/core/test_request_ids.py: when a proxy's is kept)."""
    first, second = await client.get("/healthz"), await client.get("/healthz")
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_routes_need_no_sign_in(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
