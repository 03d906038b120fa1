from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from icalendar import Calendar
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.feeds import token_digest
from services.appointments.models import CalendarFeed
from services.core import clock, tokens
from services.core.audit.models import AuditEvent
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.core.settings import Settings
from tests.appointments.conftest import Scheduling, add_patient
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

FEED_URL = re.compile(r"^/ical/([A-Za-z0-9_-]+)\.ics$")


def feeds_of(scheduling: Scheduling) -> str:
    return f"/api/v1/practitioners/{scheduling.practitioner.id}/calendar-feeds"


async def new_feed(client: httpx.AsyncClient, scheduling: Scheduling, label: str = "Phone") -> str:
    response = await client.post(
        feeds_of(scheduling), json={"label": label}, headers=scheduling.doctor.headers
    )
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def test_feed_tokens_carry_at_least_128_bits() -> None:
    token = tokens.new_token()
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert tokens.TOKEN_BYTES * 8 >= 128


async def test_the_practitioner_creates_a_feed_shown_once(
    client: httpx.AsyncClient, scheduling: Scheduling, session: AsyncSession, settings: Settings
) -> None:
    response = await client.post(
        feeds_of(scheduling), json={"label": "Phone"}, headers=scheduling.doctor.headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "label", "url", "created_at"}
    match = FEED_URL.match(created["url"])
    assert match, created["url"]
    token = match.group(1)
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.id == created["id"]))
    assert feed is not None
    # Only the keyed hash is stored.
    assert feed.token_hash == token_digest(token, settings.secret_key) != token
    assert feed.created_by == scheduling.doctor.user.id
    listed = await client.get(feeds_of(scheduling), headers=scheduling.doctor.headers)
    assert listed.status_code == 200
    (item,) = listed.json()
    assert set(item) == {"id", "label", "created_at", "revoked_at", "last_used_at"}
    assert item["label"] == "Phone" and item["revoked_at"] is None
    assert token not in listed.text
    audited = await session.scalar(
        select(AuditEvent).where(AuditEvent.resource_type == "calendar_feed")
    )
    assert audited is not None and audited.action == "create"
    assert audited.actor_id == scheduling.doctor.user.id
    assert token not in json.dumps(audited.detail)


@pytest.mark.parametrize("label", ["", "   ", "x" * 101])
async def test_a_label_is_short_visible_text(
    client: httpx.AsyncClient, scheduling: Scheduling, label: str
) -> None:
    response = await client.post(
        feeds_of(scheduling), json={"label": label}, headers=scheduling.doctor.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "label"]


async def test_the_feed_shows_initials_type_and_utc_times(
    client: httpx.AsyncClient, scheduling: Scheduling, session: AsyncSession, factory: Factory
) -> None:
    scheduling.location.name = "Lakeview Atlas Clinic"
    scheduling.practitioner.display_name = "Dr. Ana Reyes"
    scheduling.appointment_type.name = "Follow-up adjustment"
    await session.flush()
    jordan = await add_patient(session, "jordan", "Lindqvist")
    other = await add_patient(session, "Maria", "Olsen")
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.replace(hour=15, minute=0, second=0) + timedelta(days=3)
    secret = "migraine since Tuesday, stressful divorce"
    booked = await scheduling.appointment(day, patient=jordan, note=secret)
    confirmed = await scheduling.appointment(day + timedelta(hours=1), status="confirmed")
    completed = await scheduling.appointment(
        day - timedelta(days=20), status="completed", patient=other
    )
    checked_in = await scheduling.appointment(day + timedelta(days=1), status="checked_in")
    # Not shown: time that is free again, outside the window, another practitioner's.
    await scheduling.appointment(day + timedelta(hours=2), status="cancelled", patient=jordan)
    await scheduling.appointment(day + timedelta(hours=3), status="no_show", patient=jordan)
    await scheduling.appointment(now - timedelta(days=31), patient=jordan)
    await scheduling.appointment(now + timedelta(days=181), patient=jordan)
    colleague = await ClinicFactory(factory).practitioner(scheduling.location)
    await scheduling.appointment(day + timedelta(hours=5), practitioner=colleague, patient=jordan)

    url = await new_feed(client, scheduling)
    token = FEED_URL.match(url).group(1)  # type: ignore[union-attr]
    response = await client.get(url)  # no sign-in
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert "no-store" in response.headers["cache-control"]
    body = response.text
    for private in ("Jordan", "jordan", "Lindqvist", "Maria", "Olsen", secret, "migraine"):
        assert private not in body
    assert token not in body

    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Dr. Ana Reyes"
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    expected = {booked: "TENTATIVE", confirmed: "CONFIRMED", completed: "CONFIRMED"}
    expected[checked_in] = "CONFIRMED"
    assert set(events) == {f"{a.id}@clinic" for a in expected}
    for appointment, status in expected.items():
        event = events[f"{appointment.id}@clinic"]
        assert str(event["STATUS"]) == status
        assert str(event["LOCATION"]) == "Lakeview Atlas Clinic"
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start.utcoffset() == timedelta(0) and start == appointment.starts_at
        assert end.utcoffset() == timedelta(0) and end == appointment.ends_at
        assert f"DTSTART:{appointment.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}" in body
    assert str(events[f"{booked.id}@clinic"]["SUMMARY"]) == "J.L. · Follow-up adjustment"
    assert str(events[f"{completed.id}@clinic"]["SUMMARY"]) == "M.O. · Follow-up adjustment"

    feed = await session.scalar(select(CalendarFeed))
    assert feed is not None and feed.last_used_at is not None
    read = await session.scalar(select(AuditEvent).where(AuditEvent.action == "read_calendar_feed"))
    assert read is not None
    assert read.actor_id is None and read.resource_type == "calendar_feed"
    assert read.resource_id == str(feed.id)


async def test_revoked_unknown_and_malformed_addresses_are_the_same_404(
    client: httpx.AsyncClient, scheduling: Scheduling, session: AsyncSession
) -> None:
    url = await new_feed(client, scheduling)
    assert (await client.get(url)).status_code == 200
    feed_id = (await client.get(feeds_of(scheduling), headers=scheduling.doctor.headers)).json()[0][
        "id"
    ]
    for _ in range(2):  # revoking again is a 204 too
        revoked = await client.delete(
            f"/api/v1/calendar-feeds/{feed_id}", headers=scheduling.doctor.headers
        )
        assert revoked.status_code == 204
    listed = await client.get(feeds_of(scheduling), headers=scheduling.doctor.headers)
    assert listed.json()[0]["revoked_at"] is not None
    revokes = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "revoke"))).all()
    assert len(revokes) == 1

    unknown = f"/ical/{tokens.new_token()}.ics"
    answers = [await client.get(u) for u in (url, unknown, "/ical/x.ics", "/ical/%00%20.ics")]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert "no-store" in answer.headers["cache-control"]
    bodies = [
        {k: v for k, v in a.json().items() if k not in ("instance", "request_id")} for a in answers
    ]
    assert all(b == bodies[0] for b in bodies)


def _same_page(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "no-store" in answer.headers["cache-control"]
    return {k: v for k, v in answer.json().items() if k not in ("instance", "request_id")}


@pytest.mark.parametrize("change", ["deactivated", "no longer a chiropractor", "expired"])
async def test_a_feed_stops_answering_with_its_holders_access_or_its_age(
    change: str,
    client: httpx.AsyncClient,
    scheduling: Scheduling,
    session: AsyncSession,
    settings: Settings,
) -> None:
    """The address is a long-lived secret: it works only while the practitioner's user is
    an active chiropractor, and for CLINIC_FEED_MAX_DAYS; after that, the unknown page."""
    url = await new_feed(client, scheduling)
    user = update(User).where(User.id == scheduling.doctor.user.id)
    age = update(CalendarFeed).where(CalendarFeed.practitioner_id == scheduling.practitioner.id)
    max_age = timedelta(days=settings.feed_max_days)
    if change == "expired":
        await session.execute(age.values(created_at=clock.utcnow() - max_age + timedelta(hours=1)))
        assert (await client.get(url)).status_code == 200  # not quite old enough
        await session.execute(age.values(created_at=clock.utcnow() - max_age))
    elif change == "deactivated":
        await session.execute(user.values(is_active=False))
    else:
        await session.execute(user.values(roles=["admin", "front_desk"]))
    gone = await client.get(url)
    unknown = await client.get(f"/ical/{tokens.new_token()}.ics")
    assert _same_page(gone) == _same_page(unknown)


async def test_only_the_practitioner_or_an_admin_manages_feeds(
    client: httpx.AsyncClient, scheduling: Scheduling, factory: Factory
) -> None:
    url = await new_feed(client, scheduling)
    feed_id = (await client.get(feeds_of(scheduling), headers=scheduling.doctor.headers)).json()[0][
        "id"
    ]
    revoke = f"/api/v1/calendar-feeds/{feed_id}"
    colleague = await factory.staff(Role.chiropractor)
    for call in (
        client.post(feeds_of(scheduling), json={}, headers=colleague.headers),
        client.get(feeds_of(scheduling), headers=colleague.headers),
        client.delete(revoke, headers=colleague.headers),
    ):
        response = await call
        assert response.status_code == 403, response.text
    desk = await factory.staff(Role.front_desk)
    assert (await client.get(feeds_of(scheduling), headers=desk.headers)).status_code == 403
    # Unknown ids are a 404 before anything else.
    missing = "00000000-0000-4000-8000-000000000000"
    no_practitioner = f"/api/v1/practitioners/{missing}/calendar-feeds"
    assert (await client.get(no_practitioner, headers=colleague.headers)).status_code == 404
    no_feed = f"/api/v1/calendar-feeds/{missing}"
    assert (await client.delete(no_feed, headers=colleague.headers)).status_code == 404
    # An admin manages anyone's feeds.
    admin = await factory.staff(Role.admin)
    created = await client.post(feeds_of(scheduling), json={}, headers=admin.headers)
    assert created.status_code == 201 and created.json()["label"] is None
    assert (await client.delete(revoke, headers=admin.headers)).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_the_token_never_reaches_the_log(
    client: httpx.AsyncClient, scheduling: Scheduling, capsys: pytest.CaptureFixture[str]
) -> None:
    url = await new_feed(client, scheduling)
    token = FEED_URL.match(url).group(1)  # type: ignore[union-attr]
    capsys.readouterr()
    assert (await client.get(url)).status_code == 200
    assert (await client.get(f"/ical/{token}x.ics")).status_code == 404
    # The lines of the test's own HTTP client (logger "httpx") are not the server's.
    server = [
        line
        for line in (json.loads(x) for x in capsys.readouterr().out.splitlines() if x[:1] == "{")
        if line.get("logger") != "httpx"
    ]
    assert server and token not in json.dumps(server)
    routes = [line["route"] for line in server if line.get("event") == "request"]
    assert routes == ["/ical/{token}.ics", "/ical/{token}.ics"]


def test_the_feed_is_documented_as_public_text_calendar(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/ical/{token}.ics"]["get"]
    assert "security" not in operation
    assert list(operation["responses"]["200"]["content"]) == ["text/calendar"]
    assert list(operation["responses"]["404"]["content"]) == ["application/problem+json"]
