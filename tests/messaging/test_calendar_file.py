"""The confirmation email carries the visit as an .ics (texts never carry a file)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Settings
from tests.appointments.conftest import Clinic, at, booked
from tests.fakes.smtp import FakeSmtpServer
from tests.messaging.outbox_world import quiet_hours_away_from_now
from tests.messaging.support import messages_of, reachable, send_now


async def test_the_confirmation_email_carries_the_visit_as_an_ics(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    settings: Settings,
    smtp: FakeSmtpServer,
    tmp_path: Path,
) -> None:
    await reachable(session, clinic.patients[0], channel="email")
    clinic.location.address = "1200 W Belmont Ave, Chicago"
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    confirmation = next(
        m for m in await messages_of(session, made["id"]) if m.kind == "confirmation"
    )
    mail = settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "email_from": "desk@clinic.example",
            "data_dir": tmp_path,
            "quiet_hours": quiet_hours_away_from_now(),
        }
    )
    assert await send_now(session, confirmation, mail) == "sent"
    [received] = smtp.wait_for(1)
    assert "Confirm or cancel" in received.body
    [part] = [p for p in received.message.iter_attachments()]
    assert part.get_content_type() == "text/calendar"
    assert part.get_filename() == "appointment.ics"
    [event] = Calendar.from_ical(part.get_content()).walk("VEVENT")
    starts = datetime.fromisoformat(at(clinic.monday, "10:00")).astimezone(UTC)
    assert event.decoded("dtstart") == starts
    assert str(event["uid"]) == f"{made['id']}@clinic.example"
    assert str(event["location"]) == "1200 W Belmont Ave, Chicago"
    assert "Adjustment" not in str(event["summary"])  # nothing clinical


async def test_a_text_confirmation_carries_no_file(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> None:
    await reachable(session, clinic.patients[0], channel="sms")
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    confirmation = next(
        m for m in await messages_of(session, made["id"]) if m.kind == "confirmation"
    )
    folder = settings.model_copy(
        update={"data_dir": tmp_path, "quiet_hours": quiet_hours_away_from_now()}
    )
    assert await send_now(session, confirmation, folder) == "sent"
    written = (folder.outbox_dir / f"{confirmation.id}.txt").read_text()
    assert "Attachment" not in written and "BEGIN:VCALENDAR" not in written
