"""Visit notes: draft → save (revisions) → sign (final, even to SQL) → addenda; access."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from services.notes.models import Observation
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked
from tests.factories import Factory

NOTES = "/api/v1/notes"

COMPLETE: dict[str, Any] = {
    "subjective": {
        "chief_complaint": "Migraines three times a week",
        "pain_nrs": 7,
        "headache_days": 12,
        "sleep_quality": 5,
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
    "assessment": {"diagnoses": [{"code": "G43.909"}, {"code": "m797"}]},
    "plan": {"correction_given": True, "correction_side": "right"},
}


async def _visit(client: httpx.AsyncClient, clinic: Clinic, hhmm: str = "09:00") -> str:
    appointment = await booked(client, clinic.desk, clinic.body(at(clinic.monday, hhmm)))
    return str(appointment["id"])


async def _draft(client: httpx.AsyncClient, clinic: Clinic, **body: Any) -> httpx.Response:
    appointment_id = await _visit(client, clinic)
    return await client.post(
        NOTES, json={"appointment_id": appointment_id, **body}, headers=clinic.chiro.headers
    )


async def test_draft_save_sign_addendum(
    client: httpx.AsyncClient, clinic: Clinic, factory: Factory, session: AsyncSession
) -> None:
    created = await _draft(client, clinic)
    assert created.status_code == 201, created.text
    note = created.json()
    path = f"{NOTES}/{note['id']}"
    assert note["status"] == "draft"
    unconditional = await client.patch(path, json=COMPLETE, headers=clinic.chiro.headers)
    assert unconditional.status_code == 428
    partial = {"subjective": {"chief_complaint": "Migraines"}}
    saved = await client.patch(
        path, json=partial, headers={**clinic.chiro.headers, "If-Match": created.headers["ETag"]}
    )
    assert saved.status_code == 200, saved.text
    early = await client.post(f"{path}/sign", headers=clinic.chiro.headers)
    assert early.status_code == 422
    assert "pain score" in early.json()["detail"]
    assert ["content", "assessment", "diagnoses"] in [e["loc"] for e in early.json()["errors"]]
    saved = await client.patch(
        path, json=COMPLETE, headers={**clinic.chiro.headers, "If-Match": saved.headers["ETag"]}
    )
    assert saved.json()["content"]["assessment"]["diagnoses"] == [
        {
            "code": "G43.909",
            "description": "Migraine, unspecified, not intractable, without status migrainosus",
        },
        {"code": "M79.7", "description": "Fibromyalgia"},
    ]
    revisions = await client.get(f"{path}/revisions", headers=clinic.chiro.headers)
    assert [r["version"] for r in revisions.json()] == [1, 2, 3]
    signed = await client.post(f"{path}/sign", headers=clinic.chiro.headers)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and len(signed.json()["content_hash"]) == 64
    again = await client.patch(
        path, json=partial, headers={**clinic.chiro.headers, "If-Match": signed.headers["ETag"]}
    )
    assert again.status_code == 409
    assert "addendum" in again.json()["detail"]
    colleague = await factory.staff(Role.chiropractor)
    addendum = await client.post(
        f"{path}/addenda",
        json={"text": "Called the patient: no dizziness."},
        headers=colleague.headers,
    )
    assert addendum.status_code == 201
    assert [a["text"] for a in addendum.json()["addenda"]] == ["Called the patient: no dizziness."]
    codes = dict((await session.execute(select(Observation.code, Observation.value))).all())
    assert codes["pain_nrs"] == 7 and codes["leg_check_pre"] == 0.75
    assert codes["leg_check_post"] == 0 and "migraine_attacks" not in codes


async def test_a_signed_note_is_final_even_to_sql(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    note = (await _draft(client, clinic, content=COMPLETE)).json()
    assert (
        await client.post(f"{NOTES}/{note['id']}/sign", headers=clinic.chiro.headers)
    ).status_code == 200
    query = text("SELECT content, status FROM visit_notes WHERE id = :id")
    before = (await session.execute(query, {"id": note["id"]})).one()
    # The session is the app's own login: the trigger refuses changes, and the login can
    # neither delete nor switch the trigger off (superuser-only setting, owner-only DDL).
    refusals = {
        "UPDATE visit_notes SET content = '{}'::jsonb WHERE id = :id": "is signed",
        "UPDATE visit_notes SET status = 'draft', signed_at = NULL, content_hash = NULL"
        " WHERE id = :id": "is signed",
        "DELETE FROM visit_notes WHERE id = :id": "permission denied for table visit_notes",
        "DELETE FROM note_revisions WHERE note_id = :id": "permission denied",
        "UPDATE note_revisions SET content = '{}'::jsonb WHERE note_id = :id": "permission",
        "SET LOCAL session_replication_role = replica": "permission denied to set parameter",
        "ALTER TABLE visit_notes DISABLE TRIGGER visit_notes_signed_is_final": "must be owner",
        "ALTER TABLE visit_notes DISABLE TRIGGER ALL": "must be owner",
    }
    for statement, refusal in refusals.items():
        with pytest.raises(DBAPIError, match=refusal):
            async with session.begin_nested():
                await session.execute(text(statement), {"id": note["id"]})
    assert (await session.execute(query, {"id": note["id"]})).one() == before
    assert before.status == "signed"


async def test_only_the_author_signs_and_front_desk_sees_status_only(
    client: httpx.AsyncClient, clinic: Clinic, factory: Factory
) -> None:
    note = (await _draft(client, clinic, content=COMPLETE)).json()
    colleague = await factory.staff(Role.chiropractor)
    refused = await client.post(f"{NOTES}/{note['id']}/sign", headers=colleague.headers)
    assert refused.status_code == 403
    for staff in (clinic.desk, clinic.admin):
        content = await client.get(f"{NOTES}/{note['id']}", headers=staff.headers)
        assert content.status_code == 403
        listed = await client.get(
            NOTES, params={"appointment_id": note["appointment_id"]}, headers=staff.headers
        )
        assert listed.status_code == 200
        (summary,) = listed.json()["items"]
        assert summary["status"] == "draft" and "content" not in summary


async def test_reads_are_audited(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    note = (await _draft(client, clinic)).json()
    await client.get(f"{NOTES}/{note['id']}", headers=clinic.chiro.headers)
    actions = (
        await session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == note["id"]))
    ).all()
    assert sorted(actions) == ["create", "read"]


@pytest.mark.parametrize(
    ("content", "loc"),
    [
        ({"subjective": {"pain_nrs": 11}}, ["subjective", "pain_nrs"]),
        (
            {"assessment": {"diagnoses": [{"code": "G43.99X"}]}},
            ["assessment", "diagnoses", 0],
        ),
        ({"assessment": {"diagnoses": [{"code": "G43"}]}}, ["assessment", "diagnoses", 0]),
        (
            {"objective": {"leg_check_pre": {"difference_in": -0.25, "short_side": "left"}}},
            ["objective", "leg_check_pre", "difference_in"],
        ),
        (
            {"objective": {"leg_check_pre": {"difference_in": 0.3}}},
            ["objective", "leg_check_pre", "difference_in"],
        ),
        ({"objective": {"leg_check_pre": {"difference_in": 0.5}}}, ["objective", "leg_check_pre"]),
    ],
)
async def test_bad_clinical_values_are_422_and_nothing_is_written(
    client: httpx.AsyncClient, clinic: Clinic, content: dict[str, Any], loc: list[Any]
) -> None:
    response = await _draft(client, clinic, content=content)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][: len(loc) + 2] == ["body", "content", *loc]
    listed = await client.get(NOTES, headers=clinic.chiro.headers)
    assert listed.json()["items"] == []


async def test_whose_visit_and_which_visit(
    client: httpx.AsyncClient, clinic: Clinic, factory: Factory
) -> None:
    appointment_id = await _visit(client, clinic)
    colleague = await factory.staff(Role.chiropractor)
    others = await client.post(
        NOTES, json={"appointment_id": appointment_id}, headers=colleague.headers
    )
    assert others.status_code == 409 and "only they write" in others.json()["detail"]
    first = await client.post(
        NOTES, json={"appointment_id": appointment_id}, headers=clinic.chiro.headers
    )
    assert first.status_code == 201
    second = await client.post(
        NOTES, json={"appointment_id": appointment_id}, headers=clinic.chiro.headers
    )
    assert second.status_code == 409
    cancelled = await _visit(client, clinic, "11:00")
    await client.post(
        f"{APPOINTMENTS}/{cancelled}/cancel", json={"reason": "clinic"}, headers=clinic.desk.headers
    )
    refused = await client.post(
        NOTES, json={"appointment_id": cancelled}, headers=clinic.chiro.headers
    )
    assert refused.status_code == 409 and "no visit" in refused.json()["detail"]


async def test_changes_before_after_and_since_the_previous_visit(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    first = (await _draft(client, clinic, content=COMPLETE)).json()
    await client.post(f"{NOTES}/{first['id']}/sign", headers=clinic.chiro.headers)
    later = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "15:00")))
    second_content = {
        "subjective": {"pain_nrs": 4, "headache_days": 5},
        "objective": {
            "xrays": [
                {
                    "film": "nasium",
                    "phase": "pre",
                    "atlas_laterality": {"degrees": 2.5, "side": "right"},
                    "other": {"C2 rotation": 1.0},
                },
                {
                    "film": "nasium",
                    "phase": "post",
                    "atlas_laterality": {"degrees": 0.5, "side": "right"},
                    "other": {"C2 rotation": 0.25},
                },
            ]
        },
    }
    second = await client.post(
        NOTES,
        json={"appointment_id": later["id"], "content": second_content},
        headers=clinic.chiro.headers,
    )
    changes = second.json()["changes"]
    assert changes["pain_nrs"] == {"before": 7.0, "after": 4.0, "change": -3.0}
    assert changes["headache_days"]["change"] == -7.0
    assert [(x["measure"], x["change"]) for x in changes["xrays"]] == [
        ("C2 rotation", -0.75),
        ("atlas_laterality", -2.0),
    ]
    signed = await client.get(f"{NOTES}/{first['id']}", headers=clinic.chiro.headers)
    assert signed.json()["changes"]["leg_check_in"] == {
        "before": 0.75,
        "after": 0.0,
        "change": -0.75,
    }
    assert signed.json()["changes"]["pain_nrs"] is None  # no earlier visit


async def test_timeline_and_observation_series_by_role(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    note = (await _draft(client, clinic, content=COMPLETE)).json()
    path = f"{NOTES}/{note['id']}"
    await client.post(f"{path}/sign", headers=clinic.chiro.headers)
    await client.post(
        f"{path}/addenda", json={"text": "Follow-up call done."}, headers=clinic.chiro.headers
    )
    patient = str(clinic.patients[0].id)
    timeline = f"/api/v1/patients/{patient}/timeline"
    doctor = (await client.get(timeline, headers=clinic.chiro.headers)).json()["items"]
    kinds = [e["kind"] for e in doctor]
    assert {"appointment", "note", "addendum", "observation"} == set(kinds)
    assert [e["at"] for e in doctor] == sorted((e["at"] for e in doctor), reverse=True)
    assert next(e for e in doctor if e["kind"] == "note")["detail"]["chief_complaint"]
    desk = (await client.get(timeline, headers=clinic.desk.headers)).json()["items"]
    assert {e["kind"] for e in desk} == {"appointment", "note"}
    assert "chief_complaint" not in next(e for e in desk if e["kind"] == "note")["detail"]
    paged = (await client.get(timeline, params={"limit": 2}, headers=clinic.chiro.headers)).json()
    assert paged["has_more"] is True and [e["id"] for e in paged["items"]] == [
        e["id"] for e in doctor[:2]
    ]
    series = await client.get(
        f"/api/v1/patients/{patient}/observations",
        params={"code": "pain_nrs"},
        headers=clinic.chiro.headers,
    )
    assert [(o["value"], o["unit"]) for o in series.json()["items"]] == [(7.0, "score")]
    refused = await client.get(
        f"/api/v1/patients/{patient}/observations",
        params={"code": "pain_nrs"},
        headers=clinic.desk.headers,
    )
    assert refused.status_code == 403


async def test_a_new_note_starts_from_its_types_template(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    template = {
        "subjective": {"chief_complaint": "Follow-up"},
        "plan": {"home_care": "Sleep on your back; no chiropractic pillows."},
    }
    url = f"/api/v1/appointment-types/{clinic.adjustment.id}/note-template"
    empty = (await client.get(url, headers=clinic.chiro.headers)).json()
    assert empty["subjective"]["chief_complaint"] is None
    saved = await client.put(url, json=template, headers=clinic.chiro.headers)
    assert saved.status_code == 200, saved.text
    note = (await _draft(client, clinic)).json()
    assert note["content"]["subjective"]["chief_complaint"] == "Follow-up"
    assert note["content"]["plan"]["home_care"].startswith("Sleep on your back")
    blank = await _draft_at(client, clinic, "13:00", content={})
    assert blank.json()["content"]["subjective"]["chief_complaint"] is None


async def _draft_at(
    client: httpx.AsyncClient, clinic: Clinic, hhmm: str, **body: Any
) -> httpx.Response:
    appointment_id = await _visit(client, clinic, hhmm)
    return await client.post(
        NOTES, json={"appointment_id": appointment_id, **body}, headers=clinic.chiro.headers
    )
