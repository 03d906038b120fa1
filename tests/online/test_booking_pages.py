"""A patient books a first visit on the /book pages: hold, details, code, booked."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.settings import Settings
from services.messaging.models import Message
from services.online.models import BookingRequest
from services.patients.models import Patient
from tests.appointments.conftest import add_patient, at, book
from tests.online.conftest import (
    FORM,
    PHONE,
    Online,
    code,
    enter,
    give,
    held,
    hold,
    request_of,
)


async def _appointments_at(session: AsyncSession, online: Online, hhmm: str) -> list[Appointment]:
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.practitioner_id == online.clinic.dr_a.id,
            Appointment.starts_at == datetime.fromisoformat(at(online.clinic.monday, hhmm)),
        )
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def test_a_new_patient_books_a_first_visit(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    start = await client.get("/book")
    assert start.status_code == 303  # one location: straight to it
    choose = await client.get(start.headers["location"])
    assert choose.status_code == 200
    assert online.clinic.exam.name in choose.text
    assert online.clinic.adjustment.name not in choose.text  # not bookable online
    assert choose.headers["cache-control"] == "no-store"
    week = await client.get(
        f"/book/{online.location_id}/times",
        params={
            "type_id": str(online.clinic.exam.id),
            "practitioner": "any",
            "week": online.clinic.monday.isoformat(),
        },
    )
    assert week.status_code == 200
    assert at(online.clinic.monday, "10:00") in week.text
    token = await held(client, online)
    page = await client.get(f"/book/r/{token}")
    assert page.status_code == 200 and "Your details" in page.text
    sent = await give(client, token)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/book/r/{token}/code"
    request = await request_of(session, settings, token)
    assert request is not None and request.phone == PHONE
    queued = (
        await session.scalars(select(Message).where(Message.booking_request_id == request.id))
    ).all()
    assert [(m.kind, m.patient_id, m.channel, m.status) for m in queued] == [
        ("booking_code", None, "sms", "pending")
    ]
    code_page = await client.get(f"/book/r/{token}/code")
    assert "ending 99" in code_page.text
    right = await code(session, settings, token)
    wrong = await enter(client, token, "000000" if right != "000000" else "111111")
    assert wrong.status_code == 422 and "4 tries left" in wrong.text
    done = await enter(client, token, right)
    assert done.status_code == 200, done.text
    assert "You're booked, Robin" in done.text
    [visit] = await _appointments_at(session, online, "10:00")
    assert (visit.status, visit.source) == ("booked", "online")
    patient = await session.get_one(Patient, visit.patient_id)
    assert (patient.given_name, patient.phone, patient.preferred_channel) == ("Robin", PHONE, "sms")
    assert "booked-online" in patient.tags
    kinds = (
        await session.scalars(select(Message.kind).where(Message.appointment_id == visit.id))
    ).all()
    assert "confirmation" in kinds
    assert await request_of(session, settings, token) is None  # the details go with it
    # The front desk sees it with its source.
    listed = await client.get(
        "/api/v1/appointments",
        params={"patient_id": str(patient.id)},
        headers=online.clinic.desk.headers,
    )
    assert [a["source"] for a in listed.json()["items"]] == ["online"]


async def test_a_known_patient_is_matched_not_registered_again(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    known = await add_patient(session, "Robin", "Quill")
    known.phone = PHONE
    known.date_of_birth = date(1990, 7, 21)
    await session.flush()
    before = await session.scalar(select(func.count()).select_from(Patient))
    token = await held(client, online, "11:00")
    assert (await give(client, token, given_name="robin")).status_code == 303
    done = await enter(client, token, await code(session, settings, token))
    assert "You're booked" in done.text
    [visit] = await _appointments_at(session, online, "11:00")
    assert visit.patient_id == known.id
    assert await session.scalar(select(func.count()).select_from(Patient)) == before


async def test_details_with_mistakes_come_back_with_messages_and_values(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    token = await held(client, online)
    bad = await give(
        client, token, given_name="", date_of_birth="31/31/1990", phone="12", sms_consent=""
    )
    assert bad.status_code == 422
    assert "Please fill this in." in bad.text
    assert "date of birth" in bad.text.lower()
    assert "Please check the number" in bad.text
    assert "Tick the box for text messages" in bad.text
    assert 'value="Quill"' in bad.text  # kept
    request = await request_of(session, settings, token)
    assert request is not None and request.given_name is None  # nothing written
    email_only = await give(client, token, channel="email", phone="", email="")
    assert email_only.status_code == 422
    assert "We need your email address" in email_only.text


async def test_five_wrong_codes_give_the_time_back(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    token = await held(client, online)
    await give(client, token)
    right = await code(session, settings, token)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        answer = await enter(client, token, wrong)
        assert answer.status_code == 422
        assert f"{left} tr" in answer.text
    last = await enter(client, token, wrong)
    assert last.status_code == 410
    assert await _appointments_at(session, online, "10:00") == []
    # The time is free again: the front desk books it.
    body = online.clinic.body(
        at(online.clinic.monday, "10:00"), appointment_type_id=str(online.clinic.exam.id)
    )
    assert (await book(client, online.clinic.desk, body)).status_code == 201
    assert (await enter(client, token, right)).status_code == 404


async def test_a_taken_time_offers_the_free_times_of_that_week(
    client: httpx.AsyncClient, online: Online
) -> None:
    await held(client, online)
    again = await hold(client, online)
    assert again.status_code == 409
    assert "Someone else has just taken this time" in again.text
    assert at(online.clinic.monday, "12:00") in again.text  # another time to choose
    assert "Robin" not in again.text


async def test_an_expired_hold_is_gone_and_its_time_free(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    token = await held(client, online)
    request = await request_of(session, settings, token)
    assert request is not None
    hold_row = await session.get_one(Appointment, request.hold_id)
    assert hold_row.hold_expires_at is not None
    past = hold_row.hold_expires_at - timedelta(minutes=11)
    hold_row.hold_expires_at = past
    request.expires_at = past
    await session.flush()
    assert (await client.get(f"/book/r/{token}")).status_code == 410
    # The next patient gets the time: the expired hold is swept as they hold it.
    assert (await hold(client, online)).status_code == 303
    assert (
        await session.scalar(
            select(func.count()).select_from(BookingRequest).where(BookingRequest.id == request.id)
        )
        == 0
    )


async def test_choosing_another_time_gives_this_one_back(
    client: httpx.AsyncClient, online: Online, session: AsyncSession
) -> None:
    token = await held(client, online)
    back = await client.post(f"/book/r/{token}/code", data={"action": "another_time"}, headers=FORM)
    assert back.status_code == 303
    assert back.headers["location"] == f"/book/{online.location_id}"
    assert await _appointments_at(session, online, "10:00") == []


async def test_a_resend_is_a_new_code_and_the_old_one_stops_working(
    client: httpx.AsyncClient, online: Online, session: AsyncSession, settings: Settings
) -> None:
    token = await held(client, online)
    await give(client, token)
    first = await code(session, settings, token)
    resent = await client.post(f"/book/r/{token}/code", data={"action": "resend"}, headers=FORM)
    assert resent.status_code == 200 and "new code" in resent.text
    second = await code(session, settings, token)
    if first != second:
        assert (await enter(client, token, first)).status_code == 422
    assert "You're booked" in (await enter(client, token, second)).text


async def test_bad_links_and_forms_answer_pages_that_name_nobody(
    client: httpx.AsyncClient, online: Online
) -> None:
    unknown = await client.get("/book/r/not-a-real-token")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    nonsense = await client.post(
        f"/book/{online.location_id}/hold", data={"type_id": "x"}, headers=FORM
    )
    assert nonsense.status_code == 422
    closed = await client.get("/book/00000000-0000-0000-0000-000000000000")
    assert closed.status_code == 404


async def test_odd_dates_and_times_answer_pages_not_errors(
    client: httpx.AsyncClient, online: Online
) -> None:
    times = f"/book/{online.location_id}/times"
    for week in ("9999-12-31", "0001-01-01", "not-a-date"):
        shown = await client.get(
            times, params={"type_id": str(online.clinic.exam.id), "week": week}
        )
        assert shown.status_code == 200, week
    far = await hold(client, online, starts_at="9999-12-30T10:00:00+00:00")
    assert far.status_code == 409
    edge = await hold(client, online, starts_at="0001-01-01T00:00:00+14:00")
    assert edge.status_code == 422
    naive = await hold(client, online, starts_at="2027-01-04T10:00:00")
    assert naive.status_code == 422
    off_grid = await hold(client, online, starts_at=at(online.clinic.monday, "10:07"))
    assert off_grid.status_code == 409
