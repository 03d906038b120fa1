"""The check-in tables hold their rules themselves (migrations 0007 and 0008)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins import questionnaire
from services.checkins.models import Alert, Checkin, CheckinAnswers, QuestionnaireVersion
from services.core.settings import Settings
from services.messaging.models import Message
from tests.checkins.support import completed_visit, invitation, new_checkin
from tests.factories import Factory


async def _checkin(session: AsyncSession, settings: Settings, **values: Any) -> Checkin:
    return await new_checkin(session, await completed_visit(session, settings), **values)


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


async def test_a_published_questionnaire_never_changes(
    session: AsyncSession, owner_session: AsyncSession
) -> None:
    key = {"key": "post_visit", "version": 1}
    changes = (
        'UPDATE questionnaires SET definition = definition || \'{"title": "x"}\'::jsonb'
        " WHERE key = :key AND version = :version",
        "DELETE FROM questionnaires WHERE key = :key AND version = :version",
    )
    # Questionnaires are published by migrations: the app may only read them.
    publish = (
        "INSERT INTO questionnaires (key, version, definition)"
        " VALUES ('post_visit', 2, CAST(:definition AS jsonb))"
    )
    definition = {"definition": json.dumps(questionnaire.load().model_dump(mode="json"))}
    for statement in changes:
        assert "permission denied" in await _refused(session, statement, key)
    assert "permission denied" in await _refused(session, publish, definition)
    # Even the owner cannot change one, and a definition must be the version it is filed under.
    for statement in changes:
        assert "append-only" in await _refused(owner_session, statement, key)
    message = await _refused(owner_session, publish, definition)
    assert "ck_questionnaires_definition_matches" in message


async def test_a_checkin_is_answered_exactly_when_it_has_answered_at(
    session: AsyncSession, settings: Settings
) -> None:
    checkin = await _checkin(session, settings)
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
        session,
        "UPDATE checkins SET status = 'opened', sent_at = now(), expires_at = now() WHERE id = :id",
        params,
    )
    async with session.begin_nested():
        await session.execute(
            text(
                "UPDATE checkins SET status = 'answered', answered_at = now(), sent_at = now(),"
                " expires_at = now() + interval '3 days' WHERE id = :id"
            ),
            params,
        )


async def test_a_checkin_needs_a_published_questionnaire_and_is_planned_once(
    session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(IntegrityError, match="fk_checkins_questionnaire_key_questionnaires"):
        async with session.begin_nested():
            await _checkin(session, settings, questionnaire_version=99)
    visit = await completed_visit(session, settings)
    await new_checkin(session, visit)
    with pytest.raises(IntegrityError, match="uq_checkins_after_visit"):
        async with session.begin_nested():
            await new_checkin(session, visit, due_at=visit.ends_at + timedelta(days=2))
    with pytest.raises(IntegrityError, match="ck_checkins_series_for_weekly"):
        async with session.begin_nested():
            await new_checkin(session, visit, kind="weekly")


async def test_a_checkin_is_sent_exactly_when_it_has_sent_at_and_an_expiry(
    session: AsyncSession, settings: Settings
) -> None:
    checkin = await _checkin(session, settings)
    params = {"id": checkin.id}
    for statement, constraint in (
        ("UPDATE checkins SET status = 'sent' WHERE id = :id", "sent_at_matches"),
        (
            "UPDATE checkins SET sent_at = now(), expires_at = now() WHERE id = :id",
            "sent_at_matches",
        ),
        (
            "UPDATE checkins SET status = 'sent', sent_at = now() WHERE id = :id",
            "expires_when_sent",
        ),
        ("UPDATE checkins SET kind = 'monthly' WHERE id = :id", "kind_valid"),
    ):
        assert f"ck_checkins_{constraint}" in await _refused(session, statement, params)


async def test_a_checkin_is_cancelled_when_its_invitation_will_not_go_out(
    session: AsyncSession, settings: Settings
) -> None:
    """Whatever path cancels, skips or fails the invitation, the check-in follows (trigger);
    an alert email needs its check-in too."""
    visit = await completed_visit(session, settings)
    checkin = await new_checkin(session, visit)
    message = await invitation(session, visit, checkin)
    await session.execute(
        update(Message).where(Message.id == message.id).values(status="skipped", reason="x")
    )
    await session.refresh(checkin)
    assert checkin.status == "cancelled"
    assert "ck_messages_checkin_for_checkin_kinds" in await _refused(
        session,
        "INSERT INTO messages (kind, patient_id, appointment_id, location_id, channel, send_at)"
        " SELECT 'alert', patient_id, id, location_id, 'email', now() FROM appointments"
        " WHERE id = :id",
        {"id": visit.id},
    )


async def test_answers_are_append_only(session: AsyncSession, settings: Settings) -> None:
    checkin = await _checkin(session, settings)
    session.add(CheckinAnswers(checkin_id=checkin.id, answers={"pain_now": 3}))
    await session.flush()
    params = {"id": checkin.id}
    for statement in (
        "UPDATE checkin_answers SET answers = '{}'::jsonb WHERE checkin_id = :id",
        "DELETE FROM checkin_answers WHERE checkin_id = :id",
    ):
        # The app's login may only add answers (its trigger holds for the owner too).
        assert "permission denied for table checkin_answers" in await _refused(
            session, statement, params
        )


async def test_an_alert_is_acknowledged_by_someone_at_some_time(
    session: AsyncSession, settings: Settings, factory: Factory
) -> None:
    checkin = await _checkin(session, settings)
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
