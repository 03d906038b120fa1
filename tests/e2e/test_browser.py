"""A real browser (Debian's Chromium driven by Playwright) on the patient's confirm page.

The API runs in uvicorn on 127.0.0.1 against a committed database; the browser opens the
link from a message, sees the visit, taps Confirm and reads the answer, with no
JavaScript on the page. `.ci/run` installs Chromium; elsewhere the test is skipped, saying
why, when no Chromium is found. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from services.app import create_app
from services.appointments.models import Appointment
from services.core.database import Database
from services.core.settings import Settings
from tests.messaging.support import linked_visit
from tests.servers import TEMPLATE_DB, Servers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (apt-get install chromium; .ci/run does)"
)

DB = "clinic_test_browser"


@dataclass
class Visit:
    appointment_id: uuid.UUID
    token: str
    first_name: str


async def _seed(url: str, settings: Settings) -> Visit:
    database = Database.from_url(url, pool_size=1)
    try:
        async with database.sessionmaker() as session:
            appointment, token = await linked_visit(session, settings)
            await session.commit()
            return Visit(appointment.id, token, "Jordan")
    finally:
        await database.dispose()


async def _status(url: str, appointment_id: uuid.UUID) -> str:
    database = Database.from_url(url, pool_size=1)
    try:
        async with database.sessionmaker() as session:
            return (await session.get_one(Appointment, appointment_id)).status
    finally:
        await database.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    base_url: str
    database_url: str
    visit: Visit


@pytest.fixture(scope="module")
def site(servers: Servers, settings: Settings) -> Iterator[Site]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    visit = asyncio.run(_seed(url, settings))
    port = _free_port()
    app = create_app(settings.model_copy(update={"database_url": url}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    try:
        yield Site(base_url, url, visit)
    finally:
        server.should_exit = True
        thread.join(20)
        servers.drop_database(DB)


def test_a_patient_confirms_their_visit_in_a_real_browser(site: Site) -> None:
    from playwright.sync_api import sync_playwright

    link = f"{site.base_url}/a/{site.visit.token}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            response = page.goto(link)
            assert response is not None and response.status == 200
            body = page.locator("body")
            assert site.visit.first_name in body.inner_text()
            assert "The Balanced Atlas" in body.inner_text()
            confirm = page.get_by_role("button", name="Yes, I will be there")
            assert confirm.is_visible()
            confirm.click()
            page.wait_for_load_state()
            assert "confirmed" in page.locator("body").inner_text().lower()
            # The link has done its job: opening it again reveals nothing.
            again = page.goto(link)
            assert again is not None and again.status == 410
            assert site.visit.first_name not in page.locator("body").inner_text()
        finally:
            browser.close()

    assert asyncio.run(_status(site.database_url, site.visit.appointment_id)) == "confirmed"
