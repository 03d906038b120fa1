from __future__ import annotations

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import Location
from services.core.audit.models import AuditEvent
from tests.factories import Staff
from tests.patients.conftest import PATIENTS, NewPatient, patient_body


async def test_register_a_patient_as_the_front_desk_does(
    client: httpx.AsyncClient, desk: Staff, location: Location
) -> None:
    response = await client.post(PATIENTS, json=patient_body(), headers=desk.headers)
    assert response.status_code == 201, response.text
    patient = response.json()
    assert patient["phone"] == "+13125550142"  # stored as E.164
    assert patient["chart_number"].startswith("P")
    assert patient["time_zone"] == "America/Chicago"  # from the home location
    assert patient["home_location_id"] == str(location.id)
    assert patient["tags"] == ["fibromyalgia", "migraine"]
    assert patient["consent"] == {"sms": True, "email": False}
    assert patient["status"] == "active"
    assert response.headers["etag"] == '"1"'


async def test_read_returns_an_etag_and_leaves_an_audit_row(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient, session: AsyncSession
) -> None:
    patient = await new_patient()
    response = await client.get(f"{PATIENTS}/{patient['id']}", headers=desk.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    actions = (
        await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.resource_type == "patient", AuditEvent.resource_id == patient["id"])
            .order_by(AuditEvent.id)
        )
    ).all()
    assert actions == ["create", "read"]
    actors = await session.scalars(
        select(AuditEvent.actor_id).where(AuditEvent.resource_id == patient["id"])
    )
    assert set(actors) == {desk.user.id}


async def test_patch_needs_if_match_and_refuses_stale_versions(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    patient = await new_patient()
    url = f"{PATIENTS}/{patient['id']}"
    assert (await client.patch(url, json={"city": "x"}, headers=desk.headers)).status_code == 422
    missing = await client.patch(url, json={"preferred_name": "Jo"}, headers=desk.headers)
    assert missing.status_code == 428
    first = await client.patch(
        url, json={"preferred_name": "Jo"}, headers={**desk.headers, "If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.json()["preferred_name"] == "Jo"
    assert first.headers["etag"] == '"2"'
    stale = await client.patch(
        url, json={"preferred_name": "J"}, headers={**desk.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    cleared = await client.patch(
        url, json={"preferred_name": None}, headers={**desk.headers, "If-Match": '"2"'}
    )
    assert cleared.json()["preferred_name"] is None
    refused = await client.patch(
        url, json={"family_name": None}, headers={**desk.headers, "If-Match": '"3"'}
    )
    assert refused.status_code == 422


async def test_archive_instead_of_delete(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    patient = await new_patient()
    url = f"{PATIENTS}/{patient['id']}"
    archived = await client.post(f"{url}/archive", headers=desk.headers)
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert (await client.post(f"{url}/archive", headers=desk.headers)).status_code == 409
    assert (await client.delete(url, headers=desk.headers)).status_code == 405
    hidden = await client.get(PATIENTS, params={"q": "Jordan Lee"}, headers=desk.headers)
    assert hidden.json()["items"] == []
    shown = await client.get(
        PATIENTS, params={"q": "Jordan Lee", "status": "archived"}, headers=desk.headers
    )
    assert [p["id"] for p in shown.json()["items"]] == [patient["id"]]
    restored = await client.post(f"{url}/restore", headers=desk.headers)
    assert restored.json()["status"] == "active"


async def test_consent_is_history_not_a_flag(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    patient = await new_patient()
    url = f"{PATIENTS}/{patient['id']}/consents"
    withdrawn = await client.post(
        url,
        json={"channel": "sms", "granted": False, "method": "phone", "note": "asked to stop"},
        headers=desk.headers,
    )
    assert withdrawn.status_code == 201
    assert withdrawn.json()["consent"] == {"sms": False, "email": False}
    history = (await client.get(url, headers=desk.headers)).json()
    assert [(h["channel"], h["granted"]) for h in history] == [("sms", False), ("sms", True)]
    assert history[0]["recorded_by"] == str(desk.user.id)


async def test_consent_rows_cannot_be_rewritten(
    new_patient: NewPatient, session: AsyncSession
) -> None:
    import pytest
    from sqlalchemy.exc import DBAPIError

    await new_patient()
    for statement in (
        "UPDATE patient_consents SET granted = NOT granted",
        "DELETE FROM patient_consents",
    ):
        savepoint = await session.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied for table patient_consents"):
            await session.execute(text(statement))
        await savepoint.rollback()


async def test_bad_input_is_422_with_field_paths_and_nothing_is_written(
    client: httpx.AsyncClient, desk: Staff, session: AsyncSession
) -> None:
    from services.patients.models import Patient

    before = await session.scalar(select(func.count()).select_from(Patient))
    cases = {
        ("body", "phone"): {"phone": "12"},
        ("body", "email"): {"email": "jordan@"},
        ("body", "date_of_birth"): {"date_of_birth": "2999-01-01"},
        ("body", "time_zone"): {"time_zone": "Mars/Olympus"},
        ("body", "chart_number"): {"chart_number": "X1"},
        ("body", "status"): {"status": "archived"},
        ("body", "id"): {"id": "00000000-0000-4000-8000-000000000000"},
        ("body", "given_name"): {"given_name": "x" * 101},
    }
    for location, change in cases.items():
        response = await client.post(PATIENTS, json=patient_body(**change), headers=desk.headers)
        assert response.status_code == 422, (location, response.text)
        errors = response.json()["errors"]
        assert tuple(errors[0]["loc"][:2]) == location, errors
        assert errors[0]["msg"]
    early = await client.post(
        PATIENTS, json=patient_body(date_of_birth="1899-12-31"), headers=desk.headers
    )
    assert "1900" in early.json()["errors"][0]["msg"]
    assert await session.scalar(select(func.count()).select_from(Patient)) == before


async def test_duplicate_guard_lists_candidates_unless_overridden(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    jordan = await new_patient()
    same_phone = patient_body(
        given_name="Jordyn", email="other@mail.example", phone="+1 312 555 0142"
    )
    response = await client.post(PATIENTS, json=same_phone, headers=desk.headers)
    assert response.status_code == 409
    assert [c["id"] for c in response.json()["candidates"]] == [jordan["id"]]
    same_dob_similar_name = patient_body(
        given_name="Jordan", family_name="Leigh", phone=None, email=None, consents=[]
    )
    again = await client.post(PATIENTS, json=same_dob_similar_name, headers=desk.headers)
    assert again.status_code == 409
    different = patient_body(
        given_name="Maria", family_name="Santos", phone=None, email=None, consents=[]
    )
    assert (await client.post(PATIENTS, json=different, headers=desk.headers)).status_code == 201
    override = await client.post(
        PATIENTS, json={**same_phone, "allow_duplicate": True}, headers=desk.headers
    )
    assert override.status_code == 201


async def test_no_location_and_no_zone_asks_for_a_zone(
    client: httpx.AsyncClient, desk: Staff, session: AsyncSession
) -> None:
    await session.execute(text("UPDATE locations SET is_active = false"))
    response = await client.post(PATIENTS, json=patient_body(), headers=desk.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "time_zone"]
    ok = await client.post(
        PATIENTS, json=patient_body(time_zone="America/New_York"), headers=desk.headers
    )
    assert ok.status_code == 201


async def test_patch_changes_only_the_address_parts_sent(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    patient = await new_patient(address={"line1": "12 W Elm St", "city": "Chicago"})
    url = f"{PATIENTS}/{patient['id']}"
    response = await client.patch(
        url, json={"address": {"postal_code": "60610"}}, headers={**desk.headers, "If-Match": '"1"'}
    )
    assert response.json()["address"]["line1"] == "12 W Elm St"
    assert response.json()["address"]["postal_code"] == "60610"
    cleared = await client.patch(
        url, json={"address": None}, headers={**desk.headers, "If-Match": '"2"'}
    )
    assert cleared.json()["address"]["line1"] is None


async def test_showing_duplicate_candidates_is_audited(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient, session: AsyncSession
) -> None:
    jordan = await new_patient()
    response = await client.post(
        PATIENTS, json=patient_body(given_name="Jordyn"), headers=desk.headers
    )
    assert response.status_code == 409
    checks = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "duplicate_check", AuditEvent.resource_id == jordan["id"])
    )
    assert checks == 1


async def test_the_last_consent_given_at_registration_counts(
    client: httpx.AsyncClient, desk: Staff
) -> None:
    consents = [
        {"channel": "sms", "granted": True, "method": "phone"},
        {"channel": "sms", "granted": False, "method": "phone"},
    ]
    response = await client.post(
        PATIENTS, json=patient_body(consents=consents), headers=desk.headers
    )
    assert response.json()["consent"]["sms"] is False
