"""The patient's check-in page at /c/{token}: what it shows, stores, raises and never says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.checkins.models import Alert, Checkin, CheckinAnswers
from services.clinic.models import Location
from services.core.audit.models import AuditEvent
from services.core.pages import SECURITY_HEADERS
from services.core.settings import Settings
from services.messaging.models import Message, MessageLink
from services.notes.models import Observation
from services.patients.models import Patient
from tests.checkins.support import sent_checkin
from tests.messaging.support import add_link

CLINIC_PHONE = "+13125550100"
COMMENT = "My left shoulder clicks when I reach up"

# A valid HTML form: nothing worse, no red flag.
FORM: dict[str, str] = {
    "pain_now": "4",
    "headache": "1",
    "migraine_days": "2",
    "sleep_quality": "7",
    "pgic": "3",
    "rf_sudden_headache": "no",
    "rf_dizziness": "no",
    "rf_vision": "no",
    "rf_speech_swallowing": "no",
    "rf_numbness_weakness": "no",
    "rf_neck_pain": "no",
    "comments": COMMENT,
}
JSON_ANSWERS: dict[str, Any] = {
    **{key: int(value) for key, value in FORM.items() if value.isdigit()},
    **{key: False for key in FORM if key.startswith("rf_")},
}


async def _sent(
    session: AsyncSession, settings: Settings, **options: Any
) -> tuple[Checkin, str, str]:
    """A sent check-in at a clinic with a phone; answers it, its token and its URL."""
    checkin, token = await sent_checkin(session, settings, **options)
    patient = await session.get_one(Patient, checkin.patient_id)
    patient.preferred_name = "Jojo"
    message = await session.scalar(select(Message).where(Message.checkin_id == checkin.id))
    assert message is not None and message.location_id is not None
    location = await session.get_one(Location, message.location_id)
    location.phone = CLINIC_PHONE
    await session.flush()
    return checkin, token, f"/c/{token}"


async def _fresh(session: AsyncSession, checkin: Checkin) -> Checkin:
    return await session.get_one(Checkin, checkin.id, populate_existing=True)


async def _observations(session: AsyncSession, checkin: Checkin) -> dict[str, Observation]:
    rows = await session.scalars(select(Observation).where(Observation.checkin_id == checkin.id))
    return {row.code: row for row in rows}


async def _alert(session: AsyncSession, checkin: Checkin) -> Alert | None:
    return await session.scalar(
        select(Alert)
        .where(Alert.checkin_id == checkin.id)
        .execution_options(populate_existing=True)
    )


async def _baseline(session: AsyncSession, checkin: Checkin, pain: int) -> None:
    """The intake note's pain score, a month ago."""
    session.add(
        Observation(
            patient_id=checkin.patient_id,
            code="pain_nrs",
            value=Decimal(pain),
            unit="score",
            at=datetime.now(UTC) - timedelta(days=30),
            source="note",
        )
    )
    await session.flush()


async def test_the_form_shows_the_first_name_and_every_question(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)

    response = await client.get(url)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Jojo" in page
    patient = await session.get_one(Patient, checkin.patient_id)
    assert patient.family_name not in page
    assert "The Balanced Atlas" in page  # the clinic's sender name
    assert "It takes about two minutes" in page  # the intro
    assert "call your local emergency number" in page  # the notice
    for item in FORM:
        assert f'name="{item}"' in page
    assert page.count('type="radio" id="pain_now-') == 11
    assert "Worst pain imaginable" in page
    assert 'inputmode="numeric"' in page and 'max="31"' in page
    assert 'maxlength="2000"' in page
    assert page.count("<fieldset") == 10 and page.count("<legend>") == 10
    assert page.count('type="submit"') == 1
    assert "<script" not in page
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    # Opening the link changed nothing.
    assert (await _fresh(session, checkin)).status == "sent"


async def test_an_unknown_token_is_not_found(client: httpx.AsyncClient) -> None:
    for url in ("/c/nope", "/c/" + "x" * 200):
        response = await client.get(url)
        assert response.status_code == 404
        assert "not valid" in response.text
        assert (await client.post(url, data=FORM)).status_code == 404
        answered = await client.post(url, json={"answers": JSON_ANSWERS})
        assert answered.status_code == 404
        assert answered.headers["content-type"] == "application/problem+json"


async def test_a_confirm_link_is_not_a_checkin_link(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, _ = await _sent(session, settings)
    visit = await session.get_one(Appointment, checkin.appointment_id)
    reminder = Message(
        kind="reminder",
        patient_id=checkin.patient_id,
        appointment_id=visit.id,
        appointment_starts_at=visit.starts_at,
        location_id=visit.location_id,
        channel="sms",
        send_at=datetime.now(UTC),
        offset_minutes=1440,
    )
    session.add(reminder)
    await session.flush()
    token = await add_link(session, settings, reminder, datetime.now(UTC) + timedelta(days=1))

    assert (await client.get(f"/c/{token}")).status_code == 404


async def test_answering_stores_answers_and_observations_and_uses_the_link(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)

    response = await client.post(url, data=FORM)

    assert response.status_code == 200
    assert "Thank you, Jojo" in response.text
    assert "911" not in response.text
    assert 'href="tel:+13125550100"' in response.text
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    stored = await _fresh(session, checkin)
    assert stored.status == "answered" and stored.answered_at is not None
    answers = await session.get_one(CheckinAnswers, checkin.id)
    assert answers.answers == {**JSON_ANSWERS, "comments": COMMENT}
    observations = await _observations(session, checkin)
    assert {code: int(o.value) for code, o in observations.items()} == {
        "pain_nrs": 4,
        "headache_severity": 1,
        "migraine_days": 2,
        "sleep_quality": 7,
        "pgic": 3,
    }
    assert all(o.source == "checkin" for o in observations.values())
    assert all(o.appointment_id == checkin.appointment_id for o in observations.values())
    assert await _alert(session, checkin) is None
    link = await session.scalar(
        select(MessageLink)
        .join(Message, Message.id == MessageLink.message_id)
        .where(Message.checkin_id == checkin.id)
        .execution_options(populate_existing=True)
    )
    assert link is not None and link.used_at is not None and link.used_for == "answered"

    again = await client.post(url, data=FORM)
    assert again.status_code == 410
    assert "already been used or has expired" in again.text
    assert "Jojo" not in again.text and "Balanced Atlas" not in again.text
    opened = await client.get(url)
    assert (opened.status_code, opened.text) == (410, again.text)
    assert (await client.post(url, json={"answers": JSON_ANSWERS})).status_code == 410


async def test_an_expired_link_is_gone(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings, expires_in=timedelta(seconds=-1))

    response = await client.get(url)

    assert response.status_code == 410
    assert "already been used or has expired" in response.text
    assert "Jojo" not in response.text
    assert (await client.post(url, data=FORM)).status_code == 410
    assert (await _fresh(session, checkin)).status == "sent"


@pytest.mark.parametrize("status", ["expired", "cancelled"])
async def test_a_closed_checkin_is_gone_the_same_way(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, status: str
) -> None:
    checkin, _, url = await _sent(session, settings)
    checkin.status = status
    if status == "cancelled":
        checkin.sent_at = checkin.expires_at = None
    await session.flush()
    _, _, expired_url = await _sent(session, settings, expires_in=timedelta(seconds=-1))

    response = await client.get(url)

    assert response.status_code == 410
    assert response.text == (await client.get(expired_url)).text


async def test_the_link_of_a_send_thought_failed_still_answers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The provider timed out after accepting the text: the outcome was a retry, the
    check-in is still scheduled, and the patient has a working link all the same."""
    checkin, _, url = await _sent(session, settings)
    checkin.status, checkin.sent_at, checkin.expires_at = "scheduled", None, None
    await session.flush()
    link = await session.scalar(
        select(MessageLink).join(Message).where(Message.checkin_id == checkin.id)
    )
    assert link is not None

    response = await client.post(url, data=FORM)

    assert response.status_code == 200, response.text
    answered = await _fresh(session, checkin)
    assert (answered.status, answered.sent_at, answered.expires_at) == (
        "answered",
        link.created_at,
        link.expires_at,
    )


async def test_a_red_flag_says_call_911_and_raises_an_urgent_alert(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)

    response = await client.post(url, data={**FORM, "rf_vision": "yes"})

    assert response.status_code == 200
    page = response.text
    assert "Call 911 now" in page
    assert page.index("911") < page.index("Thank you")  # first, before anything else
    assert 'href="tel:911"' in page
    assert 'href="tel:+13125550100"' in page and "(312) 555-0100" in page
    assert "We have told the clinic" in page
    alert = await _alert(session, checkin)
    assert alert is not None
    assert (alert.severity, alert.reasons) == ("urgent", ["red_flag:rf_vision"])
    emails = list(
        await session.scalars(
            select(Message).where(Message.checkin_id == checkin.id, Message.kind == "alert")
        )
    )
    assert [(m.channel, m.status) for m in emails] == [("email", "pending")]


@pytest.mark.parametrize(("pain", "raised"), [(6, "normal"), (5, None)])
async def test_pain_three_points_above_the_baseline_raises_a_normal_alert(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    pain: int,
    raised: str | None,
) -> None:
    checkin, _, url = await _sent(session, settings)
    await _baseline(session, checkin, 3)

    response = await client.post(url, data={**FORM, "pain_now": str(pain)})

    assert response.status_code == 200
    assert "911" not in response.text
    alert = await _alert(session, checkin)
    assert (alert.severity if alert else None) == raised
    if alert is not None:
        assert alert.reasons == ["pain_worse:pain_now"]
    alerts = await session.scalars(
        select(Message).where(Message.checkin_id == checkin.id, Message.kind == "alert")
    )
    assert list(alerts) == []  # only urgent alerts are emailed


async def test_much_worse_overall_raises_a_normal_alert(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)

    assert (await client.post(url, data={**FORM, "pgic": "6"})).status_code == 200

    alert = await _alert(session, checkin)
    assert alert is not None and (alert.severity, alert.reasons) == ("normal", ["pgic_worse:pgic"])


async def test_json_answers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)

    invalid = await client.post(url, json={"answers": {**JSON_ANSWERS, "pain_now": 11}})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert invalid.json()["errors"] == [
        {
            "loc": ["body", "answers", "pain_now"],
            "msg": "Enter a number from 0 to 10.",
            "type": "less_than_equal",
        }
    ]
    extra = await client.post(url, json={"answers": JSON_ANSWERS, "more": 1})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["loc"] == ["body", "more"]
    assert (await _fresh(session, checkin)).status == "sent"

    response = await client.post(url, json={"answers": {**JSON_ANSWERS, "rf_dizziness": True}})

    assert response.status_code == 200
    assert response.json() == {"status": "answered", "red_flag": True}
    assert (await _fresh(session, checkin)).status == "answered"


async def test_an_invalid_form_comes_back_with_errors_and_the_entered_values(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)
    form = {**FORM, "migraine_days": "lots", "sleep_quality": ""}
    del form["rf_neck_pain"]

    response = await client.post(url, data=form)

    assert response.status_code == 422
    page = response.text
    assert "Please check your answers" in page
    assert page.count('class="error"') == 3
    assert 'id="migraine_days-error"' in page and "Enter a whole number." in page
    assert 'id="sleep_quality-error"' in page and 'id="rf_neck_pain-error"' in page
    assert 'name="migraine_days" min="0" max="31" step="1" value="lots"' in page
    assert 'id="pain_now-4" name="pain_now" value="4" checked' in page
    assert 'id="rf_vision-no" name="rf_vision" value="no" checked' in page
    assert f">{COMMENT}</textarea>" in page
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert (await _fresh(session, checkin)).status == "sent"
    assert await session.get(CheckinAnswers, checkin.id) is None


async def test_a_body_that_is_not_a_form_is_refused_with_a_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, _, url = await _sent(session, settings)

    response = await client.post(url, content=b"x", headers={"content-type": "text/plain"})

    assert response.status_code == 422
    assert "We could not read your answers" in response.text


async def test_the_audit_trail_says_who_and_what_but_not_the_answers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    checkin, _, url = await _sent(session, settings)
    assert (await client.get(url)).status_code == 200

    assert (await client.post(url, data={**FORM, "rf_neck_pain": "yes"})).status_code == 200

    rows = list(
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.resource_type == "checkin", AuditEvent.resource_id == str(checkin.id))
            .order_by(AuditEvent.id)
        )
    )
    assert [(r.action, r.actor_id) for r in rows] == [("read", None), ("answer", None)]
    assert rows[1].detail == {
        "patient_id": str(checkin.patient_id),
        "via": "link",
        "alert": "urgent",
    }
    written = json.dumps([r.detail for r in rows])
    assert COMMENT not in written and "rf_neck_pain" not in written and "pain" not in written


@pytest.mark.parametrize(
    "body",
    [
        {"answers": {**JSON_ANSWERS, "pain_now": 4.5}},
        {"answers": {**JSON_ANSWERS, "pain_now": 10**40}},
        {"answers": {**JSON_ANSWERS, "migraine_days": "2"}},
        {"answers": {**JSON_ANSWERS, "rf_vision": "yes"}},
        {"answers": {**JSON_ANSWERS, "headache": {"value": 1}}},
        {"answers": {**JSON_ANSWERS, "comments": "nul \u0000 here"}},
        {"answers": {**JSON_ANSWERS, "comments": "x" * 2001}},
        {"answers": {**JSON_ANSWERS, "unasked\u0000": 1}},
        {"answers": []},
        {"answers": {str(n): n for n in range(101)}},
    ],
)
async def test_odd_json_is_refused_never_an_error(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, body: Any
) -> None:
    checkin, _, url = await _sent(session, settings)

    response = await client.post(url, json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert all(e["loc"][0] == "body" for e in response.json()["errors"])
    assert (await _fresh(session, checkin)).status == "sent"


@pytest.mark.parametrize(
    "changes",
    [
        {"pain_now": "1e3"},
        {"pain_now": "\uff19"},  # a full-width 9
        {"migraine_days": "9" * 5000},
        {"migraine_days": "-1"},
        {"headache": "99"},
        {"rf_dizziness": "maybe"},
        {"comments": "nul \x00 here"},
        {"unasked": "1"},
    ],
)
async def test_odd_forms_come_back_as_the_form_never_an_error(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    changes: dict[str, str],
) -> None:
    checkin, _, url = await _sent(session, settings)

    response = await client.post(url, data={**FORM, **changes})

    assert response.status_code == 422
    assert "Please check your answers" in response.text
    assert (await _fresh(session, checkin)).status == "sent"


async def test_a_body_too_large_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, _, url = await _sent(session, settings)

    form = await client.post(url, data={**FORM, "comments": "x" * 40_000})
    json_body = await client.post(url, json={"answers": {**JSON_ANSWERS, "comments": "x" * 70_000}})

    assert form.status_code == 422 and "We could not read your answers" in form.text
    assert json_body.status_code == 422
