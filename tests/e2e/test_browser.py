"""A real browser (Debian's Chromium driven by Playwright) on the patient's confirm page.

The API runs in uvicorn against a committed database (``tests/e2e/browser.py``); the
browser opens the link from a message, sees the visit, taps Confirm and reads the answer,
with no JavaScript on the page.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.settings import Settings
from tests.e2e.browser import PHONE, Site, chromium, in_database, needs_chromium, running_site
from tests.messaging.support import linked_visit
from tests.servers import Servers

pytestmark = needs_chromium

DB = "clinic_test_browser"


@dataclass
class Visit:
    appointment_id: uuid.UUID
    token: str
    first_name: str


@pytest.fixture(scope="module")
def site(servers: Servers, settings: Settings) -> Iterator[Site]:
    with running_site(servers, settings, DB) as site:
        yield site


def test_a_patient_confirms_their_visit_in_a_real_browser(site: Site, settings: Settings) -> None:
    async def seed(session: AsyncSession) -> Visit:
        appointment, token = await linked_visit(session, settings)
        return Visit(appointment.id, token, "Jordan")

    async def status(session: AsyncSession) -> str:
        return (await session.get_one(Appointment, visit.appointment_id)).status

    visit = asyncio.run(in_database(site.database_url, seed))
    link = f"{site.base_url}/a/{visit.token}"
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        response = page.goto(link)
        assert response is not None and response.status == 200
        body = page.locator("body")
        assert visit.first_name in body.inner_text()
        assert "The Balanced Atlas" in body.inner_text()
        confirm = page.get_by_role("button", name="Yes, I will be there")
        assert confirm.is_visible()
        confirm.click()
        page.wait_for_load_state()
        assert "confirmed" in page.locator("body").inner_text().lower()
        # The link has done its job: opening it again reveals nothing.
        again = page.goto(link)
        assert again is not None and again.status == 410
        assert visit.first_name not in page.locator("body").inner_text()

    assert asyncio.run(in_database(site.database_url, status)) == "confirmed"
