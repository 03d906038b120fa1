"""The check-in tables hold their rules themselves (migration 0007)."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins import questionnaire
from services.checkins.models import Alert, Checkin, CheckinAnswers, QuestionnaireVersion
from services.core import clock
from services.patients.models import Patient
from tests.factories import Factory


async def _patient(session: AsyncSession) -> Patient:
    patient = Patient(
        given_name="Ada",
        family_name="Check",
        date_of_birth=date(1980, 1, 2),
        time_zone="Europe/Berlin",
    )
    session.add(patient)
    await session.flush()
    return patient


async def _checkin(session: AsyncSession, **values: Any) -> Checkin:
    patient = await _patient(session)
    defaults: dict[str, Any] = {
        "questionnaire_key": "post_visit",
        "questionnaire_version": 1,
        "due_at": clock.utcnow() + timedelta(days=1),
    }
    checkin = Checkin(patient_id=patient.id, **(defaults | values))
    session.add(checkin)
    await session.flush()
    return checkin


async def _refused(session: AsyncSession, statement: str, params: dict[str, Any]) -> str:
    with pytest.raises(DBAPIError) as raised:
        async with session.begin_nested():
            await session.execute(text(statement), params)
    return str(raised.value)


async def test_the_migration_publishes_post_visit_v1_as_the_file_holds_it(
    session: AsyncSession,
) -> None:
    row = await session.get(QuestionnaireVersion, ("post_visit", 1))
    assert row is not None
    path = questionnaire.QUESTIONNAIRES_DIR / "post_visit_v1.json"
    assert row.definition == json.loads(path.read_text(encoding="utf-8"))
    assert questionnaire.Questionnaire.model_validate(row.definition) == questionnaire.load()


async def test_a_published_questionnaire_never_changes(session: AsyncSession) -> None:
    key = {"key": "post_visit", "version": 1}
    for statement in (
        'UPDATE questionnaires SET definition = definition || \'{"title": "x"}\'::jsonb'
        " WHERE key = :key AND version = :version",
        "DELETE FROM questionnaires WHERE key = :key AND version = :version",
    ):
        assert "append-only" in await _refused(session, statement, key)
    # A definition must be the version it is filed under.
    message = await _refused(
        session,
        "INSERT INTO questionnaires (key, version, definition)"
        " VALUES ('post_visit', 2, CAST(:definition AS jsonb))",
        {"definition": json.dumps(questionnaire.load().model_dump(mode="json"))},
    )
    assert "ck_questionnaires_definition_matches" in message


async def test_a_checkin_is_answered_exactly_when_it_has_answered_at(
    session: AsyncSession,
) -> None:
    checkin = await _checkin(session)
    assert checkin.status == "scheduled" and checkin.answered_at is None
    params = {"id": checkin.id}
    message = await _refused(
        session, "UPDATE checkins SET status = 'answered' WHERE id = :id", params
    )
    assert "ck_checkins_answered_at_matches" in message
    message = await _refused(
        session, "UPDATE checkins SET answered_at = now() WHERE id = :id", params
    )
    assert "ck_checkins_answered_at_matches" in message
    assert "ck_checkins_status_valid" in await _refused(
        session, "UPDATE checkins SET status = 'opened' WHERE id = :id", params
    )
    async with session.begin_nested():
        await session.execute(
            text("UPDATE checkins SET status = 'answered', answered_at = now() WHERE id = :id"),
            params,
        )


async def test_a_checkin_needs_a_published_questionnaire_and_a_unique_token(
    session: AsyncSession,
) -> None:
    with pytest.raises(IntegrityError, match="fk_checkins_questionnaire_key_questionnaires"):
        async with session.begin_nested():
            await _checkin(session, questionnaire_version=99)
    token_hash = uuid.uuid4().bytes * 2
    await _checkin(session, token_hash=token_hash)
    with pytest.raises(IntegrityError, match="uq_checkins_token_hash"):
        async with session.begin_nested():
            await _checkin(session, token_hash=token_hash)


async def test_answers_are_append_only(session: AsyncSession) -> None:
    checkin = await _checkin(session)
    session.add(CheckinAnswers(checkin_id=checkin.id, answers={"pain_now": 3}))
    await session.flush()
    params = {"id": checkin.id}
    for statement in (
        "UPDATE checkin_answers SET answers = '{}'::jsonb WHERE checkin_id = :id",
        "DELETE FROM checkin_answers WHERE checkin_id = :id",
    ):
        assert "append-only" in await _refused(session, statement, params)


async def test_an_alert_is_acknowledged_by_someone_at_some_time(
    session: AsyncSession, factory: Factory
) -> None:
    checkin = await _checkin(session)
    alert = Alert(
        patient_id=checkin.patient_id,
        checkin_id=checkin.id,
        severity="urgent",
        reasons=["red_flag:rf_vision"],
    )
    session.add(alert)
    await session.flush()
    chiro = await factory.user()
    params: dict[str, Any] = {"id": alert.id, "user": chiro.id}
    for statement, constraint in (
        ("UPDATE alerts SET acknowledged_by = :user WHERE id = :id", "acknowledged_together"),
        ("UPDATE alerts SET acknowledged_at = now() WHERE id = :id", "acknowledged_together"),
        ("UPDATE alerts SET comment = 'seen' WHERE id = :id", "comment_on_acknowledgement"),
        ("UPDATE alerts SET severity = 'low' WHERE id = :id", "severity_valid"),
        ("UPDATE alerts SET reasons = '{}' WHERE id = :id", "has_reasons"),
    ):
        assert f"ck_alerts_{constraint}" in await _refused(session, statement, params)
    async with session.begin_nested():
        await session.execute(
            text(
                "UPDATE alerts SET acknowledged_by = :user, acknowledged_at = now(),"
                " comment = 'Called the patient; seen today.' WHERE id = :id"
            ),
            params,
        )
    # One alert per check-in.
    message = await _refused(
        session,
        "INSERT INTO alerts (patient_id, checkin_id, severity, reasons)"
        " SELECT patient_id, checkin_id, 'normal', ARRAY['pgic_worse:pgic'] FROM alerts"
        " WHERE id = :id",
        {"id": alert.id},
    )
    assert "uq_alerts_checkin_id" in message
    stored = (await session.execute(select(Alert).where(Alert.id == alert.id))).scalar_one()
    assert stored.reasons == ["red_flag:rf_vision"]
