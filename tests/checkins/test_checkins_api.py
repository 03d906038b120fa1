"""Check-ins for staff: the list every role sees (status, never answers) and one check-in
with its answers for chiropractors; both audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import Alert, Checkin, CheckinAnswers
from services.core import clock
from services.core.audit.models import AuditEvent
from services.patients.models import Patient
from tests.appointments.conftest import Clinic
from tests.checkins.support import new_checkin, visit_of

CHECKINS = "/api/v1/checkins"
LISTED = {
    "id",
    "patient_id",
    "appointment_id",
    "kind",
    "status",
    "due_at",
    "sent_at",
    "expires_at",
    "answered_at",
}
ANSWERS = {"pain_now": 7, "red_flags": ["numbness"], "comment": "Worse since Tuesday"}


async def _checkin(
    session: AsyncSession, clinic: Clinic, patient: Patient, status: str, **values: Any
) -> Checkin:
    """A check-in of ``patient`` in ``status``, with the timestamps that status implies;
    ``lapsed``: still marked sent, sent four days ago, its link dead an hour ago."""
    now = clock.utcnow()
    times: dict[str, Any] = {}
    if status not in ("scheduled", "cancelled"):
        times = {"sent_at": now - timedelta(days=1), "expires_at": now + timedelta(days=2)}
    if status == "answered":
        times["answered_at"] = now - timedelta(hours=1)
    if status == "lapsed":
        status = "sent"
        times = {"sent_at": now - timedelta(days=4), "expires_at": now - timedelta(hours=1)}
    visit = await visit_of(session, clinic, patient)
    return await new_checkin(session, visit, status=status, **(times | values))


async def _answered(session: AsyncSession, clinic: Clinic, patient: Patient) -> Checkin:
    checkin = await _checkin(session, clinic, patient, "answered")
    session.add(CheckinAnswers(checkin_id=checkin.id, answers=ANSWERS))
    session.add(
        Alert(
            patient_id=patient.id,
            checkin_id=checkin.id,
            severity="urgent",
            reasons=["red_flag:numbness"],
        )
    )
    await session.flush()
    return checkin


async def _ids(client: httpx.AsyncClient, clinic: Clinic, **params: Any) -> list[str]:
    answer = await client.get(CHECKINS, params=params, headers=clinic.desk.headers)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def _keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_front_desk_sees_status_and_never_the_answers(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    checkin = await _answered(session, clinic, clinic.patients[0])
    for staff in (clinic.desk, clinic.admin, clinic.chiro):
        answer = await client.get(CHECKINS, headers=staff.headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "answers" not in _keys(body)
        assert "Worse since Tuesday" not in answer.text
        (item,) = body["items"]
        assert set(item) == LISTED
        assert item["id"] == str(checkin.id)
        assert (item["status"], item["kind"]) == ("answered", "after_visit")
        assert item["answered_at"] is not None and item["sent_at"] is not None
    for staff in (clinic.desk, clinic.admin):
        detail = await client.get(f"{CHECKINS}/{checkin.id}", headers=staff.headers)
        assert detail.status_code == 403


async def test_filters_and_order(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    ada, ben = clinic.patients[:2]
    now = clock.utcnow()
    planned = await _checkin(session, clinic, ada, "scheduled", due_at=now + timedelta(days=1))
    sent = await _checkin(session, clinic, ada, "sent", due_at=now - timedelta(days=1))
    answered = await _checkin(session, clinic, ben, "answered", due_at=now - timedelta(days=2))
    cancelled = await _checkin(session, clinic, ben, "cancelled", due_at=now - timedelta(days=3))
    everything = [str(c.id) for c in (planned, sent, answered, cancelled)]
    assert await _ids(client, clinic) == everything
    assert await _ids(client, clinic, patient_id=str(ada.id)) == everything[:2]
    assert await _ids(client, clinic, appointment_id=str(sent.appointment_id)) == [str(sent.id)]
    assert await _ids(client, clinic, status="answered") == [str(answered.id)]
    assert await _ids(client, clinic, status=["scheduled", "cancelled"]) == [
        str(planned.id),
        str(cancelled.id),
    ]
    assert await _ids(client, clinic, patient_id=str(ben.id), status="sent") == []
    assert await _ids(client, clinic, patient_id=str(uuid.uuid4())) == []
    for bad in ({"status": "opened"}, {"patient_id": "x"}, {"limit": 0}):
        answer = await client.get(CHECKINS, params=bad, headers=clinic.desk.headers)
        assert answer.status_code == 422, bad


async def test_a_sent_one_past_its_expiry_shows_expired(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    lapsed = await _checkin(session, clinic, clinic.patients[0], "lapsed")
    live = await _checkin(session, clinic, clinic.patients[0], "sent")
    marked = await _checkin(
        session, clinic, clinic.patients[0], "expired", expires_at=clock.utcnow() - timedelta(1)
    )
    listed = (await client.get(CHECKINS, headers=clinic.desk.headers)).json()["items"]
    assert {i["id"]: i["status"] for i in listed} == {
        str(lapsed.id): "expired",
        str(live.id): "sent",
        str(marked.id): "expired",
    }
    assert await _ids(client, clinic, status="sent") == [str(live.id)]
    assert set(await _ids(client, clinic, status="expired")) == {str(lapsed.id), str(marked.id)}
    detail = await client.get(f"{CHECKINS}/{lapsed.id}", headers=clinic.chiro.headers)
    assert detail.json()["status"] == "expired"
    await session.refresh(lapsed)
    assert lapsed.status == "sent"  # shown as expired; marking it is the housekeeping's job


async def test_pagination(client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession) -> None:
    now = clock.utcnow()
    made = [
        await _checkin(session, clinic, clinic.patients[0], "scheduled", due_at=now - timedelta(n))
        for n in range(3)
    ]
    first = await client.get(CHECKINS, params={"limit": 2}, headers=clinic.desk.headers)
    assert first.json()["has_more"] is True
    second = await client.get(
        CHECKINS, params={"limit": 2, "offset": 2}, headers=clinic.desk.headers
    )
    assert second.json()["has_more"] is False
    ids = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    assert ids == [str(c.id) for c in made]


async def test_chiropractor_reads_answers_and_alert(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    checkin = await _answered(session, clinic, clinic.patients[0])
    answer = await client.get(f"{CHECKINS}/{checkin.id}", headers=clinic.chiro.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == LISTED | {"questionnaire_key", "questionnaire_version", "answers", "alert"}
    assert (body["questionnaire_key"], body["questionnaire_version"]) == ("post_visit", 1)
    assert body["answers"] == ANSWERS
    assert body["alert"] == {
        "id": body["alert"]["id"],
        "severity": "urgent",
        "reasons": ["red_flag:numbness"],
        "acknowledged": False,
    }
    waiting = await _checkin(session, clinic, clinic.patients[1], "sent")
    unanswered = await client.get(f"{CHECKINS}/{waiting.id}", headers=clinic.chiro.headers)
    assert unanswered.status_code == 200
    assert (unanswered.json()["answers"], unanswered.json()["alert"]) == (None, None)
    missing = await client.get(f"{CHECKINS}/{uuid.uuid4()}", headers=clinic.chiro.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_reads_are_audited_for_each_patient(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    made = [await _checkin(session, clinic, p, "sent") for p in clinic.patients[:2]]
    await _ids(client, clinic)
    await client.get(f"{CHECKINS}/{made[0].id}", headers=clinic.chiro.headers)
    await client.get(f"{CHECKINS}/{uuid.uuid4()}", headers=clinic.chiro.headers)
    rows = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.resource_type == "checkin").order_by(AuditEvent.id)
        )
    ).all()
    listed = {(r.resource_id, r.detail["patient_id"], r.actor_id) for r in rows[:2]}
    assert listed == {(str(c.id), str(c.patient_id), clinic.desk.user.id) for c in made}
    assert [r.action for r in rows] == ["list", "list", "read"]
    assert (rows[2].resource_id, rows[2].detail["patient_id"], rows[2].actor_id) == (
        str(made[0].id),
        str(made[0].patient_id),
        clinic.chiro.user.id,
    )
