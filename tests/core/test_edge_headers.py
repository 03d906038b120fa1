"""The headers every answer carries; /docs from shipped files only; the /metrics token."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from services.app import create_app
from services.core.auth.roles import Role
from services.core.database import Database
from services.core.settings import Environment, Settings
from tests.factories import Factory
from tests.live import asgi_client

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def _app(settings: Settings, database: Database, **overrides: object) -> FastAPI:
    return create_app(settings.model_copy(update=overrides), database=database)


def _assert_everyone_gets(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_every_api_answer_is_no_store(client: httpx.AsyncClient, factory: Factory) -> None:
    staff = await factory.staff(Role.front_desk)
    answers = [
        await client.get("/api/v1/me", headers=staff.headers),
        await client.get("/api/v1/patients", headers=staff.headers),
        await client.get("/api/v1/me"),  # 401
        await client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
        await client.get("/api/v1/no-such-route"),  # 404
    ]
    assert [a.status_code for a in answers][:3] == [200, 200, 401]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        _assert_everyone_gets(answer)
    assert "strict-transport-security" not in answers[0].headers  # public URL is http


async def test_answers_outside_the_api_get_nosniff_and_a_referrer_policy(
    client: httpx.AsyncClient,
) -> None:
    health = await client.get("/healthz")
    _assert_everyone_gets(health)
    assert "cache-control" not in health.headers


async def test_patient_pages_keep_their_own_strict_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/a/not-a-real-token-but-long-enough-to-look-up")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY"
    _assert_everyone_gets(page)
    # One of each: the middleware does not add a second, weaker copy.
    for name in ("referrer-policy", "x-content-type-options", "cache-control"):
        assert len(page.headers.get_list(name)) == 1


async def test_https_public_url_adds_hsts(settings: Settings, database: Database) -> None:
    app = _app(settings, database, public_url="https://clinic.example")
    async with asgi_client(app) as client:
        for path in ("/healthz", "/api/v1/me"):
            response = await client.get(path)
            assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_a_500_carries_the_headers_too(settings: Settings, database: Database) -> None:
    app = _app(settings, database, public_url="https://clinic.example")

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with asgi_client(app) as client:
        response = await client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    _assert_everyone_gets(response)


_EXTERNAL = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)


async def test_docs_load_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    html = docs.text
    assert _EXTERNAL.findall(html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/docs/assets/favicon.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    for asset in assets:
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 1000
    assert "url: '/openapi.json'" in html
    assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.")
    # And the browser is told the same: nothing from elsewhere, only this inline script.
    policy = docs.headers["content-security-policy"]
    assert _EXTERNAL.findall(policy) == []
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "'sha256-" in policy


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/docs/assets/swagger-ui.css"])
async def test_production_serves_no_docs_unless_asked(
    settings: Settings, database: Database, path: str
) -> None:
    production = {"env": Environment.production}
    async with asgi_client(_app(settings, database, **production)) as client:
        hidden = await client.get(path)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    async with asgi_client(_app(settings, database, **production, docs=True)) as client:
        assert (await client.get(path)).status_code == 200


async def test_production_without_docs_still_knows_its_routes(
    settings: Settings, database: Database
) -> None:
    """The app reads its own schema (app.openapi()), e.g. for a 405's Allow header."""
    async with asgi_client(_app(settings, database, env=Environment.production)) as client:
        response = await client.delete("/api/v1/users")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_metrics_are_open_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "clinic_http_requests_total" in response.text


async def test_metrics_token_is_required_when_set(settings: Settings, database: Database) -> None:
    async with asgi_client(_app(settings, database, metrics_token=METRICS_TOKEN)) as client:
        refused = [
            await client.get("/metrics"),
            await client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}),
            await client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}),
            await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}),
        ]
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    for response in refused:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert METRICS_TOKEN not in response.text
    assert allowed.status_code == 200
    assert "clinic_http_requests_total" in allowed.text
