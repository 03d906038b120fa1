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
from services.online.flow import address_key, contact_key
from services.online.models import BlockedContact
from services.patients.models import Patient
from tests.online.conftest import FORM, PHONE, Online, code, enter, give, held, hold, request_of


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
    assert "Too many attempts" in refused.text  # the same words as every refusal
    assert await _codes(session) == 1


async def _no_code_arrives(client: httpx.AsyncClient, token: str) -> None:
    """What someone whose code never came sees: wrong, wrong, … then the time is gone."""
    for left in (4, 3, 2, 1):
        answer = await enter(client, token, "123456")
        assert answer.status_code == 422 and f"{left} tr" in answer.text
    assert (await enter(client, token, "123456")).status_code == 410


async def test_a_filled_honeypot_sees_the_usual_pages_and_books_nothing(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    patients = await session.scalar(select(func.count()).select_from(Patient))
    token = await held(client, online)
    sent = await give(client, token, website="http://spam.example")
    assert sent.status_code == 303  # as for anyone
    assert "Enter your code" in (await client.get(sent.headers["location"])).text
    assert await _codes(session) == 0  # nothing sent
    await _no_code_arrives(client, token)
    assert await _booked_online(session) == 0
    assert await session.scalar(select(func.count()).select_from(Patient)) == patients
    held_now = select(func.count()).select_from(Appointment).where(Appointment.status == "held")
    assert await session.scalar(held_now) == 0  # the time went back
    assert await request_of(session, settings, token) is None


async def test_a_blocked_number_sees_the_usual_pages_and_nothing_is_booked(
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
    await _no_code_arrives(client, token)
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


async def test_one_request_sends_at_most_three_codes(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    online.settings.codes_per_contact_day = 50
    await session.flush()
    token = await held(client, online)
    await give(client, token)
    for _ in range(2):
        resent = await client.post(f"/book/r/{token}/code", data={"action": "resend"}, headers=FORM)
        assert resent.status_code == 200
    fourth = await client.post(f"/book/r/{token}/code", data={"action": "resend"}, headers=FORM)
    assert fourth.status_code == 429
    assert await _codes(session) == 3


async def test_the_contact_a_code_went_to_cannot_change(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    token = await held(client, online)
    await give(client, token)
    other = await give(client, token, phone="(312) 555-0123")
    assert other.status_code == 422
    assert "choose the time again" in other.text
    assert await _codes(session) == 1
    request = await request_of(session, settings, token)
    assert request is not None and request.phone == PHONE
    # The same contact again is a new code (the form sent twice).
    assert (await give(client, token, phone="312 555 0199")).status_code == 303


async def test_another_site_cannot_make_a_browser_hold_a_time(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        refused = await hold(client, online, _headers=headers)
        assert refused.status_code == 422
    held_now = select(func.count()).select_from(Appointment).where(Appointment.status == "held")
    assert await session.scalar(held_now) == 0
    ours = await hold(client, online, _headers={"origin": "http://clinic.test"})
    assert ours.status_code == 303
    # Our pages send no referrer: a browser posts them with Origin: null.
    same = {"origin": "null", "sec-fetch-site": "same-origin"}
    assert (await hold(client, online, "12:00", _headers=same)).status_code == 303


def test_throttle_keys_group_an_ipv6_subscriber_and_fold_a_contact() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert contact_key("Robin@Example.org", "k" * 40) == contact_key("robin@example.org", "k" * 40)
    assert "robin" not in contact_key("robin@example.org", "k" * 40)
