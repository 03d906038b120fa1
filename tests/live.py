"""Clients on the application in this process, through ASGI (no socket); and the two
helpers of a test that serves it on a real socket (tests/e2e/browser.py,
tests/core/test_body_limit.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.app import create_app
from services.core.database import Database
from services.core.settings import Settings


@asynccontextmanager
async def asgi_client(
    app: FastAPI, peer: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    """``peer``: the socket address the app sees the requests come from."""
    # An error inside the app comes back as the 500 a caller would get, not a raise.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=peer)
    async with httpx.AsyncClient(transport=transport, base_url="http://clinic.test") as client:
        yield client


@asynccontextmanager
async def committed_client(
    settings: Settings, url: str, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a database of its own (``url``), whose rows are committed: for tests of
    several connections at once."""
    app = create_app(settings.model_copy(update={"database_url": url}), database=database)
    async with asgi_client(app) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base_url: str, timeout: float = 20) -> None:
    """Until ``/healthz`` answers 200 (RuntimeError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base_url} did not start")
        time.sleep(0.1)
