"""*A day at the clinic* (../shared/A-DAY-AT-THE-CLINIC.md), through the real API, as far as
the whole story: registration, finding and booking the first visit (double click, room
clash), the confirmation and reminder texts and the confirm page they link to, the visit's
lifecycle and signed note on the day sheet, the care plan around time off, the check-in
the next day and its place in the outcome chart, a red-flag check-in that alerts and emails
Dr. Reyes, a flare cancellation that offers the slot to the waitlist, and the audit trail
of Jordan's record, whose signed note only an addendum can add to.

Messages (3, 6, 7) go out the way the worker sends them: its own claim and send functions,
run on the test's connection at a simulated time, through the real SMS channel to a local
Twilio stand-in and the real SMTP channel to a local mail server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.checkins import questionnaire
from services.checkins.questionnaire import YesNoItem
from services.core import clock
from services.core.auth.models import User
from services.core.settings import Settings
from services.demo import seed_demo
from services.messaging import gsm
from services.messaging.outbox import claim_due
from services.messaging.sending import send_one
from tests.appointments.conftest import at, next_monday
from tests.factories import Factory, Staff
from tests.fakes.sms_provider import FakeSmsProvider
from tests.fakes.smtp import FakeSmtpServer
from workers import channels

JORDAN_PHONE = "+13125550142"  # "(312) 555-0142" as Sam typed it
CLINIC_INBOX = "desk@balanced-atlas.example"
RED_FLAGS = [i.id for i in questionnaire.load().items if isinstance(i, YesNoItem) and i.red_flag]
# What the text and the page must never say: the diagnoses, the visit type, the surname.
CLINICAL = ("fibromyalgia", "migraine", "G43", "M79", "consultation", "exam", "x-ray", "Lee")


@pytest.fixture
def sms() -> Iterator[FakeSmsProvider]:
    """The SMS provider Jordan's texts go through: a local Twilio stand-in."""
    with FakeSmsProvider() as provider:
        yield provider


async def _staff(session: AsyncSession, factory: Factory, email: str) -> Staff:
    user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    return Staff(user=user, token=await factory.token_for(user))


async def _ids(client: httpx.AsyncClient, staff: Staff, path: str, key: str) -> dict[str, str]:
    response = await client.get(path, headers=staff.headers)
    assert response.status_code == 200, response.text
    return {item[key]: item["id"] for item in response.json()["items"]}


def _texting(settings: Settings, sms: FakeSmsProvider) -> Settings:
    """The worker's settings: the app's, with the SMS channel pointed at the provider."""
    return settings.model_copy(
        update={
            "sms_account_sid": sms.account_sid,
            "sms_auth_token": sms.auth_token,
            "sms_from": sms.from_number,
            "sms_base_url": sms.base_url,
        }
    )


async def _dispatch(session: AsyncSession, settings: Settings, now: datetime) -> dict[str, str]:
    """One run of the worker at ``now`` (a simulated time): its own claim and send, on the
    test's connection, each row claimed sent through the real channel. Answers what
    happened to each row claimed (message id -> outcome)."""

    def run(worker: Session) -> dict[str, str]:
        claimed = claim_due(worker, now, settings.dispatch_batch)
        return {str(m): send_one(worker, m, settings, channels.send, now) for m in claimed}

    outcomes = await session.run_sync(run)
    await session.commit()  # as the worker does once a row is sent
    return outcomes


@contextmanager
def _clock_at(instant: datetime) -> Iterator[None]:
    """The application's clock (``services.core.clock``) at a simulated time of the story,
    for what the patient does then (staff keep the real clock: their sessions expire)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "utcnow", lambda: instant)
        yield


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_a_day_at_the_clinic(
    client: httpx.AsyncClient,
    session: AsyncSession,
    factory: Factory,
    settings: Settings,
    sms: FakeSmsProvider,
    smtp: FakeSmtpServer,
) -> None:
    await seed_demo(session, "demo password for the story")
    sam = await _staff(session, factory, "sam@balanced-atlas.example")
    reyes = await _staff(session, factory, "reyes@balanced-atlas.example")
    maria = await _staff(session, factory, "maria@balanced-atlas.example")
    doctors = await _ids(client, sam, "/api/v1/practitioners", "display_name")
    types = await _ids(client, sam, "/api/v1/appointment-types", "name")
    location = (await client.get("/api/v1/locations", headers=sam.headers)).json()["items"][0]
    rooms = await _ids(client, sam, f"/api/v1/locations/{location['id']}/rooms", "name")
    exam = types["New patient consultation & exam"]

    # 1. Sam searches, finds no Jordan Lee, and registers Jordan.
    found = await client.get("/api/v1/patients", params={"q": "Jordan Lea"}, headers=sam.headers)
    assert not any(p["family_name"] == "Lee" for p in found.json()["items"])
    jordan = await client.post(
        "/api/v1/patients",
        json={
            "given_name": "Jordan",
            "family_name": "Lee",
            "date_of_birth": "1987-03-14",
            "phone": "(312) 555-0142",
            "email": "jordan.lee@mail.example",
            "preferred_channel": "sms",
            "consents": [{"channel": "sms", "granted": True, "method": "phone"}],
        },
        headers=sam.headers,
    )
    assert jordan.status_code == 201, jordan.text
    jordan_id = jordan.json()["id"]

    # 2. The first free new-patient exam with either doctor that week; Sam books Wednesday
    # 10:00 with Dr. Reyes and clicks twice: one appointment.
    monday = next_monday(2)
    wednesday = monday + timedelta(days=2)
    first = await client.get(
        "/api/v1/availability",
        params={
            "appointment_type_id": exam,
            "first": "true",
            "from": at(monday, "00:00"),
            "to": at(monday + timedelta(days=5), "00:00"),
        },
        headers=sam.headers,
    )
    assert first.status_code == 200
    (slot,) = first.json()["slots"]
    assert slot["starts_at"] == at(monday, "08:00")
    offered = await client.get(
        "/api/v1/availability",
        params={
            "appointment_type_id": exam,
            "practitioner_id": doctors["Dr. Ana Reyes"],
            "from": at(wednesday, "00:00"),
            "to": at(wednesday, "23:59"),
        },
        headers=sam.headers,
    )
    assert at(wednesday, "10:00") in [s["starts_at"] for s in offered.json()["slots"]]
    booking: dict[str, Any] = {
        "patient_id": jordan_id,
        "practitioner_id": doctors["Dr. Ana Reyes"],
        "appointment_type_id": exam,
        "starts_at": at(wednesday, "10:00"),
    }
    click = {**sam.headers, "Idempotency-Key": str(uuid.uuid4())}
    booked_at = clock.utcnow()
    first_click = await client.post("/api/v1/appointments", json=booking, headers=click)
    second_click = await client.post("/api/v1/appointments", json=booking, headers=click)
    assert first_click.status_code == second_click.status_code == 201
    visit = first_click.json()
    assert second_click.json()["id"] == visit["id"]
    assert visit["room_id"] == rooms["X-ray"]
    # Dr. Okafor's assistant puts someone else in the x-ray room at 10:30: refused, and why.
    someone = (await client.get("/api/v1/patients", headers=sam.headers)).json()["items"][0]
    clash = await client.post(
        "/api/v1/appointments",
        json={
            **booking,
            "patient_id": someone["id"],
            "practitioner_id": doctors["Dr. Chidi Okafor"],
            "starts_at": at(wednesday, "10:30"),
            "room_id": rooms["X-ray"],
        },
        headers=sam.headers,
    )
    assert clash.status_code == 409
    assert clash.json()["clashing_appointment_id"] == visit["id"]
    assert "The room already has an appointment" in clash.json()["detail"]

    # 3. Jordan gets a text confirming the visit, then a reminder, and confirms from its link.
    # The location keeps the default rules: reminders 48 h and 2 h before, never during quiet
    # hours (21:00-08:00 on Jordan's clock, which is Chicago's).
    assert location["name"] == "The Balanced Atlas"
    zone = ZoneInfo(location["time_zone"])
    assert jordan.json()["time_zone"] == location["time_zone"]
    settings_path = f"/api/v1/locations/{location['id']}/message-settings"
    rules = (await client.get(settings_path, headers=sam.headers)).json()
    assert rules["reminder_offsets_minutes"] == [48 * 60, 2 * 60]
    quiet_start = time.fromisoformat(rules["quiet_start"])
    quiet_end = time.fromisoformat(rules["quiet_end"])
    assert (quiet_start, quiet_end) == (time(21, 0), time(8, 0))

    def quiet(instant: datetime) -> bool:
        local = instant.astimezone(zone).time()
        return local >= quiet_start or local < quiet_end

    # Booking wrote the outbox: a confirmation now (or at 08:00, had Sam booked during quiet
    # hours) and the reminders. Sam sees them in the messages list.
    listed = await client.get(
        "/api/v1/messages", params={"appointment_id": visit["id"]}, headers=sam.headers
    )
    outbox = listed.json()["items"]
    (confirmation,) = [m for m in outbox if m["kind"] == "confirmation"]
    reminders = sorted(
        (m for m in outbox if m["kind"] == "reminder"), key=lambda m: _instant(m["send_at"])
    )
    assert {m["channel"] for m in outbox} == {"sms"}
    confirm_at = _instant(confirmation["send_at"])
    assert confirmation["status"] == "pending"
    if quiet(booked_at):
        assert confirm_at.astimezone(zone).time() == quiet_end
    else:
        assert booked_at <= confirm_at <= clock.utcnow()
    # 48 h before Wednesday 10:00 is Monday 10:00 (the story's "Tuesday" would take a 24 h
    # offset); 2 h before is Wednesday 08:00, the first minute after quiet hours.
    two_days_before = _instant(at(monday, "10:00"))
    two_hours_before = _instant(at(wednesday, "08:00"))
    assert [_instant(m["send_at"]) for m in reminders] == [two_days_before, two_hours_before]
    if two_days_before <= booked_at:  # 48 h was already past when Sam booked
        assert (reminders[0]["status"], reminders[0]["reason"]) == ("skipped", "too_late")
    else:
        assert reminders[0]["status"] == "pending"
    assert reminders[1]["status"] == "pending"
    assert not [m for m in outbox if quiet(_instant(m["send_at"]))]

    # The worker runs at once (or at 08:00): the confirmation is the only thing due, and
    # Jordan's phone gets first name, clinic, time and a link; nothing clinical, one segment.
    texting = _texting(settings, sms)
    sent = await _dispatch(session, texting, max(confirm_at, clock.utcnow()))
    assert sent == {confirmation["id"]: "sent"}
    (confirmation_text,) = sms.messages
    assert confirmation_text.to == JORDAN_PHONE
    assert confirmation_text.from_ == sms.from_number
    assert confirmation_text.idempotency_key == confirmation["id"]
    words, link = confirmation_text.body.rsplit(" ", 1)
    assert words.startswith("Hi Jordan, ")
    assert f"The Balanced Atlas, {wednesday:%a %b} {wednesday.day} at 10:00 AM" in words
    assert not [w for w in CLINICAL if w.lower() in words.lower()]
    assert link.startswith(f"{texting.public_url.rstrip('/')}/a/")
    assert gsm.is_gsm7(confirmation_text.body)
    assert gsm.segments(confirmation_text.body) == 1

    # The reminder goes out when it is due (the first one not skipped), and only then.
    due = next(m for m in reminders if m["status"] == "pending")
    due_at = _instant(due["send_at"])
    assert await _dispatch(session, texting, due_at - timedelta(seconds=1)) == {}
    assert await _dispatch(session, texting, due_at) == {due["id"]: "sent"}
    reminder_text = sms.messages[-1]
    assert (len(sms.messages), reminder_text.to) == (2, JORDAN_PHONE)
    words, link = reminder_text.body.rsplit(" ", 1)
    assert words.startswith("Hi Jordan, reminder: The Balanced Atlas, ")
    assert not [w for w in CLINICAL if w.lower() in words.lower()]
    assert gsm.segments(reminder_text.body) == 1

    # Jordan taps the link; the scanner at Jordan's work had opened it first. Both see
    # Wednesday 10:00 at The Balanced Atlas and a Confirm button; neither changes anything.
    assert link.startswith(f"{texting.public_url.rstrip('/')}/a/")
    page_path = urlsplit(link).path
    visit_path = f"/api/v1/appointments/{visit['id']}"
    before = (await client.get(visit_path, headers=sam.headers)).json()
    for _opener in ("the scanner", "Jordan"):
        shown = await client.get(page_path)
        assert shown.status_code == 200
        assert shown.headers["content-type"].startswith("text/html")
        assert "Jordan" in shown.text
        assert f"Wednesday, {wednesday:%B} {wednesday.day} at 10:00 AM" in shown.text
        assert "The Balanced Atlas" in shown.text
        assert 'name="action" value="confirm"' in shown.text
        assert not [w for w in CLINICAL if w.lower() in shown.text.lower()]
    after = (await client.get(visit_path, headers=sam.headers)).json()
    assert (after["status"], after["history"]) == ("booked", before["history"])
    # Jordan confirms: once.
    confirmed = await client.post(page_path, data={"action": "confirm"})
    assert confirmed.status_code == 200
    assert "is confirmed" in confirmed.text
    after = (await client.get(visit_path, headers=sam.headers)).json()
    assert after["status"] == "confirmed"
    assert after["history"][:-1] == before["history"]
    change = after["history"][-1]
    assert (change["from_status"], change["to_status"], change["actor_id"]) == (
        "booked",
        "confirmed",
        None,
    )
    assert (await client.post(page_path, data={"action": "confirm"})).status_code == 410

    # 4. Wednesday: Sam checks Jordan in from the day sheet; Dr. Reyes starts and completes.
    sheet = await client.get(
        "/api/v1/schedule",
        params={"date": wednesday.isoformat(), "location_id": location["id"]},
        headers=sam.headers,
    )
    column = next(c for c in sheet.json()["practitioners"] if c["practitioner"] == "Dr. Ana Reyes")
    entry = next(a for a in column["appointments"] if a["appointment_id"] == visit["id"])
    assert (entry["patient_name"], entry["new_patient"], entry["room"]) == (
        "Jordan Lee",
        True,
        "X-ray",
    )
    path = f"/api/v1/appointments/{visit['id']}"
    assert (await client.post(f"{path}/check-in", headers=sam.headers)).status_code == 200
    assert (await client.post(f"{path}/start", headers=reyes.headers)).status_code == 200
    done = await client.post(f"{path}/complete", headers=reyes.headers)
    assert done.json()["status"] == "completed"
    # Dr. Reyes charts the visit and signs; Sam sees "signed" on the day sheet, not the note.
    chart = await client.post(
        "/api/v1/notes",
        json={
            "appointment_id": visit["id"],
            "content": {
                "subjective": {
                    "chief_complaint": "Migraines three times a week; fibromyalgia",
                    "pain_nrs": 7,
                    "headache_days": 12,
                },
                "objective": {
                    "leg_check_pre": {"difference_in": 0.75, "short_side": "right"},
                    "leg_check_post": {"difference_in": 0},
                    "xrays": [
                        {
                            "film": "nasium",
                            "phase": "pre",
                            "atlas_laterality": {"degrees": 2.5, "side": "right"},
                            "atlas_rotation": {"degrees": 1.75, "anterior_side": "right"},
                        }
                    ],
                },
                "assessment": {"diagnoses": [{"code": "G43.909"}, {"code": "M79.7"}]},
                "plan": {"correction_given": True, "correction_side": "right"},
            },
        },
        headers=reyes.headers,
    )
    assert chart.status_code == 201, chart.text
    note_path = f"/api/v1/notes/{chart.json()['id']}"
    assert (await client.post(f"{note_path}/sign", headers=reyes.headers)).status_code == 200
    sheet = await client.get(
        "/api/v1/schedule",
        params={"date": wednesday.isoformat(), "location_id": location["id"]},
        headers=sam.headers,
    )
    column = next(c for c in sheet.json()["practitioners"] if c["practitioner"] == "Dr. Ana Reyes")
    entry = next(a for a in column["appointments"] if a["appointment_id"] == visit["id"])
    assert entry["note_status"] == "signed"
    assert (await client.get(note_path, headers=sam.headers)).status_code == 403

    # 5. The care plan: Mon/Wed/Fri 9:00 for 4 weeks; two dates clash with Dr. Reyes' time
    # off. The series books what fits and offers the nearest free time on those days.
    plan_start = next_monday(3)
    for off in (plan_start + timedelta(days=2), plan_start + timedelta(days=11)):
        response = await client.post(
            f"/api/v1/practitioners/{doctors['Dr. Ana Reyes']}/exceptions",
            json={
                "kind": "time_off",
                "starts_at": at(off, "08:00"),
                "ends_at": at(off, "10:00"),
                "reason": "Seminar",
            },
            headers=maria.headers,
        )
        assert response.status_code == 201, response.text
    plan = await client.post(
        "/api/v1/appointment-series",
        json={
            "patient_id": jordan_id,
            "practitioner_id": doctors["Dr. Ana Reyes"],
            "appointment_type_id": types["NUCCA adjustment follow-up"],
            "start_date": plan_start.isoformat(),
            "weeks": 4,
            "weekdays": [0, 2, 4],
            "time": "09:00",
            "mode": "book_what_fits",
        },
        headers=reyes.headers,
    )
    assert plan.status_code == 201, plan.text
    report = plan.json()
    assert report["booked"] == 10
    missed = [o for o in report["occurrences"] if o["outcome"] != "booked"]
    assert [o["nearest_free"][11:16] for o in missed] == ["10:00", "10:00"]

    # 6. Thursday: the check-in Dr. Reyes' completion planned goes out a day after the visit
    # (the default policy: the first exam includes the first correction). Sam sees that it
    # is planned, never what Jordan answers.
    checkins = await client.get(
        "/api/v1/checkins", params={"patient_id": jordan_id}, headers=sam.headers
    )
    (first,) = [c for c in checkins.json()["items"] if c["appointment_id"] == visit["id"]]
    assert (first["kind"], first["status"]) == ("after_visit", "scheduled")
    assert _instant(first["due_at"]) == _instant(visit["ends_at"]) + timedelta(hours=24)
    thursday = _instant(first["due_at"])
    await _dispatch(session, texting, thursday)
    (invitation,) = [m for m in sms.messages if "/c/" in m.body]
    assert invitation.to == JORDAN_PHONE
    assert invitation.body.startswith("Hi Jordan, how are you since your visit? ")
    assert not [w for w in CLINICAL if w.lower() in invitation.body.lower()]
    assert gsm.segments(invitation.body) == 1
    checkin_page = urlsplit(invitation.body.rsplit(" ", 1)[1]).path
    answers = {
        "pain_now": "4",
        "headache": "1",  # mild
        "migraine_days": "1",
        "sleep_quality": "6",
        "pgic": "3",  # a little improved
        **{item: "no" for item in RED_FLAGS},
        "comments": "Slept better than in weeks.",
    }
    with _clock_at(thursday + timedelta(minutes=7)):  # Jordan answers a few minutes later
        form = await client.get(checkin_page)
        assert form.status_code == 200 and "Jordan" in form.text
        assert not re.search(r"\bLee\b", form.text)  # first name only
        thanks = await client.post(checkin_page, data=answers)
        assert thanks.status_code == 200, thanks.text
        assert "Thank you" in thanks.text and "911" not in thanks.text
        assert (await client.post(checkin_page, data=answers)).status_code == 410
    # It lands in Jordan's outcome series: pain 7 at the exam, 4 on Thursday.
    series = await client.get(f"/api/v1/patients/{jordan_id}/outcomes", headers=reyes.headers)
    assert series.status_code == 200, series.text
    pain = next(m for m in series.json()["measures"] if m["code"] == "pain_nrs")
    assert [(p["value"], p["source"]) for p in pain["points"]] == [(7, "note"), (4, "checkin")]
    chart = await client.get(f"/api/v1/patients/{jordan_id}/outcomes.png", headers=reyes.headers)
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    seen_by_sam = await client.get(
        "/api/v1/checkins", params={"patient_id": jordan_id}, headers=sam.headers
    )
    answered = next(c for c in seen_by_sam.json()["items"] if c["id"] == first["id"])
    assert answered["status"] == "answered" and "answers" not in answered

    # 7. The following Monday, after the care plan's first visit, another check-in: Jordan
    # ticks "sudden severe headache unlike any before". The page says to call 911 now and
    # the clinic; Dr. Reyes gets an urgent alert and an email (so does the clinic's inbox,
    # which Maria set), and acknowledges it after calling Jordan.
    kept = {k: v for k, v in rules.items() if k not in ("location_id", "is_default")}
    inbox = await client.put(
        settings_path, json={**kept, "alert_email": CLINIC_INBOX}, headers=maria.headers
    )
    assert inbox.status_code == 200, inbox.text
    plan_monday = next(o for o in report["occurrences"] if o["date"] == plan_start.isoformat())
    monday_path = f"/api/v1/appointments/{plan_monday['appointment_id']}"
    assert (await client.post(f"{monday_path}/check-in", headers=sam.headers)).status_code == 200
    assert (await client.post(f"{monday_path}/start", headers=reyes.headers)).status_code == 200
    assert (await client.post(f"{monday_path}/complete", headers=reyes.headers)).status_code == 200
    planned = await client.get(
        "/api/v1/checkins",
        params={"appointment_id": plan_monday["appointment_id"]},
        headers=sam.headers,
    )
    kinds = {c["kind"]: c for c in planned.json()["items"]}
    assert set(kinds) == {"after_visit", "weekly"}  # the plan's weekly one, from Monday on
    tuesday = _instant(kinds["after_visit"]["due_at"])
    await _dispatch(session, texting, tuesday)
    second_page = urlsplit([m for m in sms.messages if "/c/" in m.body][-1].body.rsplit(" ", 1)[1])
    assert second_page.path != checkin_page
    alarming = {**answers, "pain_now": "6", "rf_sudden_headache": "yes", "comments": ""}
    answered_at = tuesday + timedelta(minutes=12)
    with _clock_at(answered_at):
        warned = await client.post(second_page.path, data=alarming)
    assert warned.status_code == 200
    assert warned.text.index("Call 911 now") < warned.text.index("tel:+13125550100")
    alerts = await client.get(
        "/api/v1/alerts", params={"patient_id": jordan_id}, headers=reyes.headers
    )
    (alert,) = alerts.json()["items"]
    assert (alert["severity"], alert["reasons"]) == ("urgent", ["red_flag:rf_sudden_headache"])
    mailing = texting.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none"}
    )
    await _dispatch(session, mailing, answered_at + timedelta(seconds=15))  # the next beat
    (email,) = [m for m in smtp.messages if (m.subject or "").startswith("Urgent check-in alert")]
    assert sorted(email.rcpt_tos) == [CLINIC_INBOX, "reyes@balanced-atlas.example"]
    assert "Jordan" not in email.body and not re.search(r"\bLee\b", email.body)
    acknowledged = await client.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        json={"comment": "Called Jordan at once; sent to the ER. Headache resolved, CT clear."},
        headers=reyes.headers,
    )
    assert acknowledged.status_code == 200, acknowledged.text

    # 8. A Friday visit is cancelled by Jordan because of a flare: no late flag, and the
    # patient waiting for a Friday morning with Dr. Reyes is offered the slot.
    plan_friday = plan_start + timedelta(days=4)
    waiting = await client.post(
        "/api/v1/waitlist",
        json={
            "patient_id": someone["id"],
            "practitioner_id": doctors["Dr. Ana Reyes"],
            "earliest_date": plan_friday.isoformat(),
            "latest_date": plan_friday.isoformat(),
        },
        headers=sam.headers,
    )
    assert waiting.status_code == 201
    friday_visit = next(
        o["appointment_id"] for o in report["occurrences"] if o["date"] == plan_friday.isoformat()
    )
    cancelled = await client.post(
        f"/api/v1/appointments/{friday_visit}/cancel",
        json={"reason": "illness", "note": "fibromyalgia flare"},
        headers=sam.headers,
    )
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["late_cancel"]) == ("cancelled", False)
    entries = (await client.get("/api/v1/waitlist", headers=sam.headers)).json()["items"]
    offer = next(e for e in entries if e["id"] == waiting.json()["id"])
    assert offer["status"] == "offered"
    assert offer["offered_appointment_id"] == friday_visit

    # 9. Month end: Maria pulls the audit trail of Jordan's record: the record itself and
    # every appointment and waitlist row that names Jordan, who and when.
    trail = await client.get(
        "/api/v1/audit-events",
        params={"patient_id": jordan_id, "limit": 100},
        headers=maria.headers,
    )
    events = trail.json()["items"]
    seen = {(e["resource_type"], e["action"]) for e in events}
    assert {
        ("patient", "create"),
        ("appointment", "create"),
        ("appointment", "check_in"),
        ("appointment", "complete"),
        ("appointment", "day_sheet"),
        ("appointment", "cancel"),
        ("visit_note", "sign"),
        ("checkin", "answer"),
        ("alert", "acknowledge"),
    } <= seen
    assert {e["actor_id"] for e in events} >= {str(sam.user.id), str(reyes.user.id)}
    # Nobody can edit Wednesday's signed note; Dr. Reyes adds an addendum instead.
    signed = await client.get(note_path, headers=reyes.headers)
    edit = await client.patch(
        note_path,
        json={"subjective": {"pain_nrs": 3}},
        headers={**reyes.headers, "If-Match": signed.headers["ETag"]},
    )
    assert edit.status_code == 409
    addendum = await client.post(
        f"{note_path}/addenda",
        json={"text": "Patient reports the headache began two days before the visit."},
        headers=reyes.headers,
    )
    assert addendum.status_code == 201
    others = await client.get(
        "/api/v1/audit-events", params={"patient_id": someone["id"]}, headers=maria.headers
    )
    assert not {e["id"] for e in others.json()["items"]} & {e["id"] for e in events}
