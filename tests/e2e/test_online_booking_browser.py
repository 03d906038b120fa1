"""A new patient books a first visit on a phone in a real browser (Debian's Chromium,
Playwright, 390x844, no JavaScript): the visit and practitioner, a time, their details,
the code read from the local SMTP server as the worker sends it, and the booked page; then
the front desk sees the visit with its source."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.appointments.models import Appointment
from services.clinic.models import AppointmentType
from services.core.auth.roles import Role
from services.core.settings import Settings
from services.messaging.outbox import claim_due
from services.messaging.sending import send_one
from services.online.models import OnlineBookingSettings
from tests.clinic.factories import ClinicFactory
from tests.e2e.browser import PHONE, Site, chromium, in_database, needs_chromium, running_site
from tests.factories import Factory
from tests.fakes.smtp import FakeSmtpServer
from tests.servers import Servers
from workers import channels

pytestmark = needs_chromium

DB = "clinic_test_online_booking_browser"
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Clinic:
    location_id: uuid.UUID
    desk_token: str


@pytest.fixture(scope="module")
def site(servers: Servers, settings: Settings) -> Iterator[Site]:
    with running_site(servers, settings, DB) as site:
        yield site


def _open_clinic(site: Site, settings: Settings) -> Clinic:
    async def seed(session: AsyncSession) -> Clinic:
        factory = Factory(session, settings)
        setup = ClinicFactory(factory)
        location = await setup.location(name="The Balanced Atlas", time_zone="America/Chicago")
        doctor = await setup.practitioner(location, name="Dr. Ana Reyes")
        await setup.hours(doctor, location, range(7), time(8), time(18))
        session.add(
            AppointmentType(
                name="New patient consultation",
                duration_minutes=60,
                is_new_patient=True,
                colour="#2E86AB",
                online_bookable=True,
                online_notice_minutes=60,
            )
        )
        session.add(OnlineBookingSettings(location_id=location.id, enabled=True))
        desk = await factory.staff(Role.front_desk)
        return Clinic(location.id, desk.token)

    return asyncio.run(in_database(site.database_url, seed))


def _worker_runs(site: Site, settings: Settings) -> dict[str, str]:
    """One run of the worker: its own claim and send, through the real SMTP channel."""

    async def run(session: AsyncSession) -> dict[str, str]:
        def send(worker: Session) -> dict[str, str]:
            now = datetime.now(UTC)
            claimed = claim_due(worker, now, settings.dispatch_batch)
            return {str(m): send_one(worker, m, settings, channels.send, now) for m in claimed}

        return await session.run_sync(send)

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, in_database(site.database_url, run)).result()


def _booked(site: Site) -> list[Appointment]:
    async def read(session: AsyncSession) -> list[Appointment]:
        rows = await session.scalars(select(Appointment).where(Appointment.source == "online"))
        return list(rows)

    return asyncio.run(in_database(site.database_url, read))


def test_a_new_patient_books_a_first_visit_on_a_phone(
    site: Site, settings: Settings, smtp: FakeSmtpServer
) -> None:
    clinic = _open_clinic(site, settings)
    mailing = settings.model_copy(
        update={
            "database_url": site.database_url,
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "email_from": "desk@balanced-atlas.example",
        }
    )
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{site.base_url}/book")
        page.get_by_label("What for?").select_option(label="New patient consultation (60 min)")
        page.get_by_label("With").select_option(label="First available")
        page.get_by_role("button", name="See free times").click()
        # Next week: whatever the hour now, it has free mornings.
        page.get_by_role("link", name="Later week").click()
        page.get_by_role("button", name="9:00 AM").first.click()
        assert page.get_by_role("heading", name="Your details").is_visible()
        page.get_by_label("First name").fill("Robin")
        page.get_by_label("Last name").fill("Quill")
        page.get_by_label("Date of birth").fill("1990-07-21")
        page.get_by_label("Email address").fill("robin@example.org")
        page.get_by_role("radio", name="Email").check()
        page.get_by_label("I agree to emails about my visits").check()
        page.get_by_role("button", name="Send me a code").click()
        assert page.get_by_role("heading", name="Enter your code").is_visible()
        assert list(_worker_runs(site, mailing).values()) == ["sent"]
        [mail] = smtp.wait_for(1)
        assert mail.to == "robin@example.org"
        found = CODE.search(mail.subject or "")
        assert found is not None, mail.subject
        page.get_by_label("Code").fill(found.group(1))
        page.get_by_role("button", name="Book this time").click()
        assert page.get_by_role("heading", name="You're booked, Robin!").is_visible()
        assert "9:00 AM" in page.locator(".when").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone
    [visit] = _booked(site)
    assert visit.status == "booked"
    sheet = httpx.get(
        f"{site.base_url}/api/v1/schedule",
        params={
            "date": visit.starts_at.astimezone(ZoneInfo("America/Chicago")).date().isoformat(),
            "location_id": str(clinic.location_id),
        },
        headers={"Authorization": f"Bearer {clinic.desk_token}"},
    )
    assert sheet.status_code == 200, sheet.text
    [entry] = [a for p in sheet.json()["practitioners"] for a in p["appointments"]]
    assert (entry["source"], entry["patient_name"]) == ("online", "Robin Quill")
