"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.database import Database
from services.core.errors import ServiceUnavailable, Unauthorized
from services.core.settings import Settings

log = structlog.get_logger(__name__)
router = APIRouter(tags=["health"])
# prometheus_client keeps every process's values in files here when it is set (before import).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


async def _database_ok(database: Database) -> bool:
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def _redis_ok(redis_url: str, timeout: float) -> bool:
    client = aioredis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def _with_timeout(check: Coroutine[Any, Any, bool], timeout: float) -> bool:
    try:
        return await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return False


@router.get("/readyz", responses={503: {"description": "A dependency does not answer"}})
async def readyz(request: Request) -> dict[str, object]:
    """Ready to serve: PostgreSQL and Redis both answer."""
    settings: Settings = request.app.state.settings
    timeout = settings.health_timeout_seconds
    database_ok, redis_ok = await asyncio.gather(
        _with_timeout(_database_ok(request.app.state.database), timeout),
        _with_timeout(_redis_ok(settings.redis_url or "", timeout), timeout),
    )
    checks = {"database": database_ok, "redis": redis_ok}
    failing = sorted(name for name, ok in checks.items() if not ok)
    if failing:
        raise ServiceUnavailable(
            f"Not ready: {', '.join(failing)} did not answer.", failing=failing
        )
    return {"status": "ok", "checks": {name: "ok" for name in checks}}


MetricsSource = Callable[[AsyncSession], Awaitable[bytes]]


def _check_metrics_token(request: Request, token: str) -> None:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise Unauthorized("/metrics needs the bearer token CLINIC_METRICS_TOKEN.")


def _process_metrics() -> CollectorRegistry:
    """This process's metrics, or, when ``clinic api --workers N`` runs several processes
    (``PROMETHEUS_MULTIPROC_DIR`` set), the sum over all of them: any process may answer."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in the library
    return registry


@router.get(
    "/metrics",
    response_class=Response,
    responses={401: {"description": "CLINIC_METRICS_TOKEN is set and was not sent"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency by route template, and what the
    domains add (``app.state.metrics_sources``, read from the database at each scrape).
    With ``CLINIC_METRICS_TOKEN`` set, only for ``Authorization: Bearer <that token>``."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token:
        _check_metrics_token(request, settings.metrics_token)
    body = generate_latest(_process_metrics())
    database: Database = request.app.state.database
    sources: list[MetricsSource] = request.app.state.metrics_sources
    if sources:
        try:
            async with database.sessionmaker() as session:
                for source in sources:
                    body += await source(session)
        except Exception:
            # The request metrics still answer when PostgreSQL does not (/readyz says why).
            log.warning("metrics from the database unavailable")
    return Response(body, media_type=CONTENT_TYPE_LATEST)
