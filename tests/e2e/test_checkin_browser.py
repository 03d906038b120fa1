"""A real browser (Debian's Chromium driven by Playwright) answering a check-in on a phone:
the questions found by their labels and roles, as a screen reader would, no JavaScript."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import Checkin
from services.core.settings import Settings
from tests.checkins.support import sent_checkin
from tests.e2e.browser import PHONE, Site, chromium, in_database, needs_chromium, running_site
from tests.servers import Servers

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = needs_chromium

DB = "clinic_test_checkin_browser"

RED_FLAGS = (
    "Have you had a sudden, severe headache unlike any you have had before?",
    "Have you felt dizzy, or felt the room spinning?",
    "Have you had double vision, or lost some or all of your sight?",
    "Have you had trouble speaking or swallowing?",
    "Have you had numbness or weakness in your face, an arm or a leg?",
    "Have you had new neck pain that is not like your usual pain?",
)


@dataclass
class Invited:
    checkin_id: uuid.UUID
    url: str


@pytest.fixture(scope="module")
def site(servers: Servers, settings: Settings) -> Iterator[Site]:
    with running_site(servers, settings, DB) as site:
        yield site


def _invite(site: Site, settings: Settings) -> Invited:
    async def seed(session: AsyncSession) -> Invited:
        checkin, token = await sent_checkin(session, settings)
        return Invited(checkin.id, f"{site.base_url}/c/{token}")

    return asyncio.run(in_database(site.database_url, seed))


def _status(site: Site, checkin_id: uuid.UUID) -> str:
    async def read(session: AsyncSession) -> str:
        return (await session.get_one(Checkin, checkin_id)).status

    return asyncio.run(in_database(site.database_url, read))


def _choose(page: Page, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()


def _answer(page: Page, *, dizzy: bool) -> None:
    _choose(page, "How much pain do you have right now?", "3")
    _choose(page, "Since your visit, how bad have your headaches been?", "Mild")
    page.get_by_label("On how many days have you had a migraine since your last check-in?").fill(
        "1"
    )
    _choose(page, "How well did you sleep last night?", "8")
    _choose(
        page,
        "Since you started care, how would you describe the change in your condition?",
        "Much improved",
    )
    for question in RED_FLAGS:
        yes = dizzy and "dizzy" in question
        _choose(page, question, "Yes" if yes else "No")
    page.get_by_label("Is there anything else you would like us to know? (optional)").fill(
        "Feeling better"
    )
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("dizzy", [False, True], ids=["well", "red flag"])
def test_a_patient_answers_a_checkin_on_a_phone(
    site: Site, settings: Settings, dizzy: bool
) -> None:
    invited = _invite(site, settings)
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        response = page.goto(invited.url)
        assert response is not None and response.status == 200
        assert "Hello Jordan" in page.locator("body").inner_text()
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        _answer(page, dizzy=dizzy)

        text = page.locator("body").inner_text()
        assert "Thank you" in text
        if dizzy:
            assert text.lstrip().startswith("Call 911 now")
            assert page.get_by_role("link", name="Call 911").get_attribute("href") == "tel:911"
        else:
            assert "911" not in text
        again = page.goto(invited.url)
        assert again is not None and again.status == 410
        assert "Jordan" not in page.locator("body").inner_text()

    assert _status(site, invited.checkin_id) == "answered"
