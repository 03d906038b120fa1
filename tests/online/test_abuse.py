"""What keeps a bot flood out of the calendar: throttles per address and per contact, a
cap on open holds per contact, a honeypot field and the clinic's blocklist. A refused or
blocked visitor learns nothing about anyone else."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.settings import Settings
from services.messaging.models import Message
from services.online.models import BlockedContact
from services.patients.models import Patient
from tests.online.conftest import PHONE, Online, code, enter, give, held, hold, request_of


async def _codes(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Message).where(Message.kind == "booking_code")
    )
    return int(count or 0)


async def _booked_online(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.source == "online", Appointment.status == "booked")
    )
    return int(count or 0)


async def test_one_address_may_hold_only_so_many_times_an_hour(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    online.settings.holds_per_address_hour = 2
    await session.flush()
    assert (await hold(client, online, "09:00")).status_code == 303
    assert (await hold(client, online, "11:00")).status_code == 303
    third = await hold(client, online, "13:00")
    assert third.status_code == 429
    assert "Too many attempts" in third.text
    held_times = await session.scalar(
        select(func.count()).select_from(Appointment).where(Appointment.status == "held")
    )
    assert held_times == 2


async def test_one_phone_gets_only_so_many_codes_a_day(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    online.settings.codes_per_contact_day = 2
    await session.flush()
    token = await held(client, online)
    assert (await give(client, token)).status_code == 303
    resend = await client.post(
        f"/book/r/{token}/code",
        data={"action": "resend"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resend.status_code == 200
    third = await client.post(
        f"/book/r/{token}/code",
        data={"action": "resend"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert third.status_code == 429
    assert await _codes(session) == 2


async def test_one_phone_may_hold_only_so_many_times_at_once(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    online.settings.open_holds_per_contact = 1
    await session.flush()
    first = await held(client, online, "09:00")
    assert (await give(client, first)).status_code == 303
    second = await held(client, online, "11:00")
    refused = await give(client, second)
    assert refused.status_code == 429
    assert "already has a time held" in refused.text
    assert await _codes(session) == 1


async def test_a_filled_honeypot_sees_the_usual_pages_and_books_nothing(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    patients = await session.scalar(select(func.count()).select_from(Patient))
    token = await held(client, online)
    sent = await give(client, token, website="http://spam.example")
    assert sent.status_code == 303  # as for anyone
    assert await _codes(session) == 0  # nothing sent
    done = await enter(client, token, "123456")
    assert done.status_code == 200 and "You're booked" in done.text
    assert await _booked_online(session) == 0
    assert await session.scalar(select(func.count()).select_from(Patient)) == patients
    # The time went back.
    assert (
        await session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.status == "held")
        )
    ) == 0
    assert await request_of(session, settings, token) is None


async def test_a_blocked_number_sees_success_and_nothing_is_booked(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    added = await client.post(
        "/api/v1/online-booking/blocked",
        json={"kind": "phone", "value": "312-555-0199", "reason": "bot flood"},
        headers=online.clinic.admin.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["value"] == PHONE
    token = await held(client, online)
    assert (await give(client, token)).status_code == 303
    assert await _codes(session) == 0
    assert "You're booked" in (await enter(client, token, "000000")).text
    assert await _booked_online(session) == 0


async def test_an_unblocked_contact_books_again(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    session.add(BlockedContact(kind="email", value="ROBIN@example.org"))
    await session.flush()
    token = await held(client, online)
    await give(client, token, channel="email", email_consent="yes")
    assert await _codes(session) == 0  # the email matched whatever its case
    blocked = await client.get(
        "/api/v1/online-booking/blocked", headers=online.clinic.admin.headers
    )
    [entry] = blocked.json()["items"]
    gone = await client.delete(
        f"/api/v1/online-booking/blocked/{entry['id']}", headers=online.clinic.admin.headers
    )
    assert gone.status_code == 204
    other = await held(client, online, "13:00")
    await give(client, other, channel="email", email_consent="yes", phone="")
    assert await _codes(session) == 1
    assert (
        "You're booked" in (await enter(client, other, await code(session, settings, other))).text
    )
    assert await _booked_online(session) == 1
