"""The admin's check-in policies: upsert per (type, location), which one applies, delete,
audit, and who may use them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import CheckinPolicy
from services.core.audit.models import AuditEvent
from tests.appointments.conftest import Clinic
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

POLICIES = "/api/v1/checkin-policies"


async def _put(client: httpx.AsyncClient, clinic: Clinic, **body: Any) -> httpx.Response:
    defaults = {
        "appointment_type_id": str(clinic.adjustment.id),
        "location_id": None,
        "after_visit_hours": 48,
        "weekly_in_series": False,
    }
    return await client.put(POLICIES, json=defaults | body, headers=clinic.admin.headers)


async def _effective(
    client: httpx.AsyncClient, clinic: Clinic, type_id: uuid.UUID, location_id: uuid.UUID
) -> dict[str, Any]:
    answer = await client.get(
        f"{POLICIES}/effective",
        params={"appointment_type_id": str(type_id), "location_id": str(location_id)},
        headers=clinic.admin.headers,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_put_creates_then_updates_the_same_row(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    first = await _put(client, clinic)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["after_visit_hours"] == 48 and body["weekly_in_series"] is False
    assert body["location_id"] is None
    second = await _put(client, clinic, after_visit_hours=None, weekly_in_series=True)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == body["id"]
    assert second.json()["after_visit_hours"] is None
    assert second.json()["weekly_in_series"] is True
    count = await session.scalar(
        select(func.count())
        .select_from(CheckinPolicy)
        .where(CheckinPolicy.appointment_type_id == clinic.adjustment.id)
    )
    assert count == 1
    listed = await client.get(
        POLICIES,
        params={"appointment_type_id": str(clinic.adjustment.id)},
        headers=clinic.admin.headers,
    )
    assert [p["id"] for p in listed.json()["items"]] == [body["id"]]


async def test_effective_is_location_row_then_type_row_then_default(
    client: httpx.AsyncClient, clinic: Clinic, factory: Factory
) -> None:
    here, elsewhere = clinic.location.id, (await ClinicFactory(factory).location()).id
    adjustment, exam = clinic.adjustment.id, clinic.exam.id
    default = await _effective(client, clinic, adjustment, here)
    assert default == {
        "appointment_type_id": str(adjustment),
        "location_id": str(here),
        "after_visit_hours": 24,
        "weekly_in_series": True,
        "is_default": True,
    }
    # The default is the same for every type (the first exam includes a correction too).
    exam_default = await _effective(client, clinic, exam, here)
    assert (exam_default["after_visit_hours"], exam_default["weekly_in_series"]) == (24, True)

    everywhere = (await _put(client, clinic, after_visit_hours=12)).json()
    local = (await _put(client, clinic, location_id=str(here), after_visit_hours=6)).json()
    assert local["id"] != everywhere["id"]
    found = await _effective(client, clinic, adjustment, here)
    assert (found["after_visit_hours"], found["is_default"]) == (6, False)
    found = await _effective(client, clinic, adjustment, elsewhere)
    assert (found["after_visit_hours"], found["is_default"]) == (12, False)

    listed = await client.get(
        POLICIES, params={"location_id": str(here)}, headers=clinic.admin.headers
    )
    assert [p["id"] for p in listed.json()["items"]] == [local["id"]]
    every = await client.get(POLICIES, headers=clinic.admin.headers)
    ids = [p["id"] for p in every.json()["items"]]
    assert ids.index(everywhere["id"]) < ids.index(local["id"])  # every-location row first

    deleted = await client.delete(f"{POLICIES}/{local['id']}", headers=clinic.admin.headers)
    assert deleted.status_code == 204
    assert (await _effective(client, clinic, adjustment, here))["after_visit_hours"] == 12
    await client.delete(f"{POLICIES}/{everywhere['id']}", headers=clinic.admin.headers)
    assert (await _effective(client, clinic, adjustment, here))["is_default"] is True
    again = await client.delete(f"{POLICIES}/{local['id']}", headers=clinic.admin.headers)
    assert again.status_code == 404
    # "effective" is not a policy id: the path is GET only.
    wrong = await client.delete(f"{POLICIES}/effective", headers=clinic.admin.headers)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")


async def test_hours_out_of_range_are_422_with_the_field(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    for hours in (0, 337, -1, "soon", 1.5):
        answer = await _put(client, clinic, after_visit_hours=hours)
        assert answer.status_code == 422, hours
        assert answer.json()["errors"][0]["loc"] == ["body", "after_visit_hours"]
    for hours in (1, 336):
        assert (await _put(client, clinic, after_visit_hours=hours)).status_code == 200
    missing = await client.put(
        POLICIES,
        json={"appointment_type_id": str(clinic.adjustment.id), "weekly_in_series": True},
        headers=clinic.admin.headers,
    )
    assert missing.status_code == 422


async def test_unknown_type_or_location_is_404_naming_the_field(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    no_type = await _put(client, clinic, appointment_type_id=str(uuid.uuid4()))
    assert no_type.status_code == 404
    assert "appointment_type_id" in no_type.json()["detail"]
    no_place = await _put(client, clinic, location_id=str(uuid.uuid4()))
    assert no_place.status_code == 404
    assert "location_id" in no_place.json()["detail"]
    effective = await client.get(
        f"{POLICIES}/effective",
        params={"appointment_type_id": str(clinic.adjustment.id), "location_id": str(uuid.uuid4())},
        headers=clinic.admin.headers,
    )
    assert effective.status_code == 404
    assert await session.scalar(select(func.count()).select_from(CheckinPolicy)) == 0


async def test_every_change_is_audited(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    made = (await _put(client, clinic)).json()
    await _put(client, clinic, after_visit_hours=72)
    await client.delete(f"{POLICIES}/{made['id']}", headers=clinic.admin.headers)
    rows = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.resource_type == "checkin_policy")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [(r.action, r.resource_id, r.actor_id) for r in rows] == [
        (action, made["id"], clinic.admin.user.id) for action in ("create", "update", "delete")
    ]
    assert [r.detail["after_visit_hours"] for r in rows] == [48, 72, 72]


async def test_only_admins(client: httpx.AsyncClient, clinic: Clinic) -> None:
    made = (await _put(client, clinic)).json()
    for staff in (clinic.desk, clinic.chiro):
        assert (await client.get(POLICIES, headers=staff.headers)).status_code == 403
        put = await client.put(
            POLICIES,
            json={
                "appointment_type_id": str(clinic.adjustment.id),
                "after_visit_hours": 1,
                "weekly_in_series": True,
            },
            headers=staff.headers,
        )
        assert put.status_code == 403
        gone = await client.delete(f"{POLICIES}/{made['id']}", headers=staff.headers)
        assert gone.status_code == 403
    still = await client.get(POLICIES, headers=clinic.admin.headers)
    assert [p["after_visit_hours"] for p in still.json()["items"]] == [48]
