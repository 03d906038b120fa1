"""Shared by the real-browser tests: the API in uvicorn on 127.0.0.1 against a committed
database of its own, and Debian's Chromium driven by Playwright (never Playwright's own
browser downloads). Tests are skipped, saying why, when no Chromium is found; `.ci/run`
installs it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from services.app import create_app
from services.core.database import Database
from services.core.settings import Settings
from tests.live import free_port, wait_until_up
from tests.servers import TEMPLATE_DB, Servers

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (apt-get install chromium; .ci/run does)"
)
PHONE: ViewportSize = {"width": 390, "height": 844}

T = TypeVar("T")


async def in_database(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in a session of its own on ``url``, committed."""
    database = Database.from_url(url, pool_size=1)
    try:
        async with database.sessionmaker() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await database.dispose()


@dataclass
class Site:
    base_url: str
    database_url: str


@contextmanager
def running_site(servers: Servers, settings: Settings, database: str) -> Iterator[Site]:
    """A fresh migrated database called ``database`` and the app serving it."""
    url = servers.recreate_database(database, template=TEMPLATE_DB)
    port = free_port()
    app = create_app(settings.model_copy(update={"database_url": url}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    wait_until_up(base_url)
    try:
        yield Site(base_url, url)
    finally:
        server.should_exit = True
        thread.join(20)
        servers.drop_database(database)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium (the system's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()
