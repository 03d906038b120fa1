"""The staff side (settings per location, appointment types bookable online) and the code
going out through the outbox like any message."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Settings
from services.messaging.models import Message
from tests.appointments.conftest import Clinic
from tests.fakes.smtp import FakeSmtpServer
from tests.messaging.support import send_now
from tests.online.conftest import Online, code, give, held, request_of


async def test_settings_are_off_until_saved_and_admins_write_them(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    url = f"/api/v1/locations/{clinic.location.id}/online-booking"
    first = await client.get(url, headers=clinic.desk.headers)
    assert first.status_code == 200
    assert first.json()["enabled"] is False and first.json()["is_default"] is True
    assert (await client.get("/book")).text.count("Online booking is not open") == 1
    desk = await client.put(url, json={"enabled": True}, headers=clinic.desk.headers)
    assert desk.status_code == 403
    saved = await client.put(
        url, json={"enabled": True, "hold_minutes": 15}, headers=clinic.admin.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["hold_minutes"] == 15 and saved.json()["is_default"] is False
    again = await client.put(url, json={"hold_minutes": 99}, headers=clinic.admin.headers)
    assert again.status_code == 422
    assert again.json()["errors"][0]["loc"] == ["body", "hold_minutes"]
    # Which visits: the type's own flag, notice and reach.
    kind = await client.get(
        f"/api/v1/appointment-types/{clinic.exam.id}", headers=clinic.admin.headers
    )
    changed = await client.patch(
        f"/api/v1/appointment-types/{clinic.exam.id}",
        json={"online_bookable": True, "online_notice_minutes": 1440, "online_days_ahead": 30},
        headers={**clinic.admin.headers, "If-Match": kind.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["online_bookable"] is True
    choose = await client.get(f"/book/{clinic.location.id}")
    assert clinic.exam.name in choose.text


async def test_the_code_goes_out_by_email_with_the_clinic_and_nothing_else(
    client: httpx.AsyncClient,
    online: Online,
    session: AsyncSession,
    settings: Settings,
    smtp: FakeSmtpServer,
    tmp_path: Path,
) -> None:
    token = await held(client, online)
    await give(client, token, channel="email", email_consent="yes")
    request = await request_of(session, settings, token)
    assert request is not None
    message = await session.scalar(select(Message).where(Message.booking_request_id == request.id))
    assert message is not None
    mail = settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "email_from": "desk@clinic.example",
            "data_dir": tmp_path,
        }
    )
    assert await send_now(session, message, mail) == "sent"
    [received] = smtp.wait_for(1)
    assert received.to == "robin@example.org"
    expected = await code(session, settings, token)
    assert expected in (received.subject or "")
    assert expected in received.body
    assert "Robin" in received.body and "Quill" not in received.body


async def test_a_code_for_a_request_gone_is_skipped(
    client: httpx.AsyncClient,
    online: Online,
    session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> None:
    token = await held(client, online)
    await give(client, token)
    request = await request_of(session, settings, token)
    assert request is not None
    message = await session.scalar(select(Message).where(Message.booking_request_id == request.id))
    assert message is not None
    await client.post(
        f"/book/r/{token}/code",
        data={"action": "another_time"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    folder = settings.model_copy(update={"data_dir": tmp_path})
    assert await send_now(session, message, folder) == "skipped"
    await session.refresh(message)
    assert message.reason == "request_gone"


async def test_staff_message_lists_leave_codes_out(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    token = await held(client, online)
    await give(client, token)
    listed = await client.get("/api/v1/messages", headers=online.clinic.desk.headers)
    assert listed.status_code == 200, listed.text
    assert all(m["kind"] != "booking_code" for m in listed.json()["items"])
