"""The staff side of check-in alerts: the list (chiropractors, audited) and acknowledging."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import Alert
from services.core import clock
from services.core.audit.models import AuditEvent
from services.patients.models import Patient
from tests.appointments.conftest import Clinic
from tests.checkins.support import new_checkin, visit_of

ALERTS = "/api/v1/alerts"


async def _alert(
    session: AsyncSession,
    clinic: Clinic,
    patient: Patient,
    *,
    severity: str = "normal",
    minutes_ago: int = 0,
    **values: Any,
) -> Alert:
    checkin = await new_checkin(session, await visit_of(session, clinic, patient))
    alert = Alert(
        patient_id=patient.id,
        checkin_id=checkin.id,
        severity=severity,
        reasons=["pain_increase"] if severity == "normal" else ["red_flag:numbness"],
        created_at=clock.utcnow() - timedelta(minutes=minutes_ago),
        **values,
    )
    session.add(alert)
    await session.flush()
    return alert


async def _ids(client: httpx.AsyncClient, clinic: Clinic, **params: Any) -> list[str]:
    answer = await client.get(ALERTS, params=params, headers=clinic.chiro.headers)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def test_list_is_urgent_first_then_newest_with_filters(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    ada, ben = clinic.patients[:2]
    old_normal = await _alert(session, clinic, ada, minutes_ago=60)
    new_normal = await _alert(session, clinic, ben, minutes_ago=5)
    old_urgent = await _alert(session, clinic, ben, severity="urgent", minutes_ago=120)
    new_urgent = await _alert(session, clinic, ada, severity="urgent", minutes_ago=10)
    done = await _alert(
        session,
        clinic,
        ada,
        minutes_ago=1,
        acknowledged_by=clinic.chiro.user.id,
        acknowledged_at=clock.utcnow(),
        comment="Called, fine",
    )
    open_order = [str(a.id) for a in (new_urgent, old_urgent, new_normal, old_normal)]
    assert await _ids(client, clinic) == open_order
    assert await _ids(client, clinic, status="open") == open_order
    assert await _ids(client, clinic, status="acknowledged") == [str(done.id)]
    assert await _ids(client, clinic, status="all") == [
        str(new_urgent.id),
        str(old_urgent.id),
        str(done.id),
        str(new_normal.id),
        str(old_normal.id),
    ]
    assert await _ids(client, clinic, severity="urgent") == [str(new_urgent.id), str(old_urgent.id)]
    assert await _ids(client, clinic, patient_id=str(ada.id), status="all") == [
        str(new_urgent.id),
        str(done.id),
        str(old_normal.id),
    ]
    listed = (await client.get(ALERTS, headers=clinic.chiro.headers)).json()["items"][0]
    assert listed == {
        "id": str(new_urgent.id),
        "patient_id": str(ada.id),
        "checkin_id": str(new_urgent.checkin_id),
        "severity": "urgent",
        "reasons": ["red_flag:numbness"],
        "created_at": listed["created_at"],
        "acknowledged_by": None,
        "acknowledged_at": None,
        "comment": None,
    }
    for bad in ({"status": "closed"}, {"severity": "high"}, {"patient_id": "x"}):
        answer = await client.get(ALERTS, params=bad, headers=clinic.chiro.headers)
        assert answer.status_code == 422


async def test_pagination(client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession) -> None:
    made = [await _alert(session, clinic, clinic.patients[0], minutes_ago=n) for n in range(3)]
    first = await client.get(ALERTS, params={"limit": 2}, headers=clinic.chiro.headers)
    assert first.json()["has_more"] is True
    second = await client.get(
        ALERTS, params={"limit": 2, "offset": 2}, headers=clinic.chiro.headers
    )
    assert second.json()["has_more"] is False
    ids = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    assert ids == [str(a.id) for a in made]


async def test_every_listed_alert_is_audited_for_its_patient(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    alerts = [
        await _alert(session, clinic, p, minutes_ago=n) for n, p in enumerate(clinic.patients[:2])
    ]
    await _ids(client, clinic)
    rows = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "alert", AuditEvent.action == "list"
            )
        )
    ).all()
    assert {(r.resource_id, r.detail["patient_id"], r.actor_id) for r in rows} == {
        (str(a.id), str(a.patient_id), clinic.chiro.user.id) for a in alerts
    }


async def test_acknowledge_once_then_409(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    alert = await _alert(session, clinic, clinic.patients[0], severity="urgent")
    path = f"{ALERTS}/{alert.id}/acknowledge"
    done = await client.post(
        path, json={"comment": "  Phoned, referred to ER  "}, headers=clinic.chiro.headers
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["acknowledged_by"] == str(clinic.chiro.user.id)
    assert body["acknowledged_at"] is not None
    assert body["comment"] == "Phoned, referred to ER"
    assert await _ids(client, clinic) == []

    again = await client.post(path, json={"comment": "Me too"}, headers=clinic.chiro.headers)
    assert again.status_code == 409
    problem = again.json()
    assert again.headers["content-type"].startswith("application/problem+json")
    assert clinic.chiro.user.full_name in problem["detail"]
    assert problem["acknowledged_by"] == str(clinic.chiro.user.id)

    await session.refresh(alert)
    assert alert.comment == "Phoned, referred to ER"
    audit = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_id == str(alert.id), AuditEvent.action == "acknowledge"
            )
        )
    ).all()
    assert len(audit) == 1
    assert audit[0].actor_id == clinic.chiro.user.id
    assert audit[0].detail["patient_id"] == str(alert.patient_id)
    assert "Phoned" not in str(audit[0].detail)


async def test_unknown_alert_is_404(client: httpx.AsyncClient, clinic: Clinic) -> None:
    answer = await client.post(
        f"{ALERTS}/{uuid.uuid4()}/acknowledge", json={"comment": "x"}, headers=clinic.chiro.headers
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"comment": ""},
        {"comment": "   \n\t"},
        {"comment": "a\x00b"},
        {"comment": "x" * 2001},
        {"comment": "ok", "severity": "normal"},
    ],
)
async def test_acknowledge_validation(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, body: dict[str, Any]
) -> None:
    alert = await _alert(session, clinic, clinic.patients[0])
    answer = await client.post(
        f"{ALERTS}/{alert.id}/acknowledge", json=body, headers=clinic.chiro.headers
    )
    assert answer.status_code == 422, answer.text
    await session.refresh(alert)
    assert alert.acknowledged_at is None


async def test_front_desk_and_admins_are_refused(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    alert = await _alert(session, clinic, clinic.patients[0])
    for staff in (clinic.desk, clinic.admin):
        listed = await client.get(ALERTS, headers=staff.headers)
        assert listed.status_code == 403
        acknowledged = await client.post(
            f"{ALERTS}/{alert.id}/acknowledge", json={"comment": "seen"}, headers=staff.headers
        )
        assert acknowledged.status_code == 403
    await session.refresh(alert)
    assert alert.acknowledged_at is None
