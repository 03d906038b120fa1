"""Migrations are code: up, check against the models, down to base, up again."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from services.models import metadata
from tests.servers import Servers, alembic_config

SCRATCH_DB = "clinic_test_migrations"
EXPECTED_TABLES = {
    "users",
    "auth_sessions",
    "throttle_counters",
    "audit_events",
    # clinic setup
    "locations",
    "rooms",
    "practitioners",
    "practitioner_locations",
    "working_hours",
    "schedule_exceptions",
    "location_closures",
    "appointment_types",
    "message_settings",
    # patients
    "patients",
    "patient_consents",
    # scheduling
    "appointments",
    "appointment_status_changes",
    "appointment_series",
    "idempotency_keys",
    "calendar_feeds",
    "waitlist_entries",
    # visit notes
    "visit_notes",
    "note_revisions",
    "note_addenda",
    "observations",
    "note_templates",
    # messaging
    "messages",
    "message_events",
    "message_links",
    "inbound_sms",
    # check-ins
    "questionnaires",
    "checkins",
    "checkin_policies",
    "checkin_answers",
    "alerts",
    # online booking
    "online_booking_settings",
    "online_blocked_contacts",
    "online_booking_requests",
}


@pytest.fixture(scope="module")
def scratch_url(servers: Servers) -> Iterator[str]:
    servers.recreate_database(SCRATCH_DB)
    yield servers.owner_url_for(SCRATCH_DB)
    servers.drop_database(SCRATCH_DB)


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_matches_the_models_then_downgrades_to_nothing(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    assert _tables(scratch_url) >= EXPECTED_TABLES

    command.check(config)  # raises when the models and the migrations disagree
    engine = create_engine(scratch_url, poolclass=NullPool)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []

    command.downgrade(config, "base")
    assert _tables(scratch_url) == {"alembic_version"}
    command.upgrade(config, "head")
    assert "audit_events" in _tables(scratch_url)


# One of everything a check-in's messages touch, and a reminder that must survive.
CHECKIN_ROWS = """
WITH u AS (INSERT INTO users (email, full_name, password_hash, roles)
           VALUES ('dr@x.example', 'Dr X', 'x', '{chiropractor}') RETURNING id),
 l AS (INSERT INTO locations (name, time_zone) VALUES ('L', 'UTC') RETURNING id),
 t AS (INSERT INTO appointment_types (name, duration_minutes, colour)
       VALUES ('Adjustment', 30, '#336699') RETURNING id),
 p AS (INSERT INTO patients (given_name, family_name, date_of_birth, time_zone)
       VALUES ('Jordan', 'Lee', '1990-01-01', 'UTC') RETURNING id),
 d AS (INSERT INTO practitioners (user_id, display_name) SELECT id, 'Dr X' FROM u RETURNING id),
 a AS (INSERT INTO appointments (patient_id, practitioner_id, location_id, appointment_type_id,
                                 starts_at, ends_at, held_from, held_until, status)
       SELECT p.id, d.id, l.id, t.id, now() - interval '2 hours', now() - interval '90 minutes',
              now() - interval '2 hours', now() - interval '90 minutes', 'completed'
       FROM p, d, l, t RETURNING id, patient_id, location_id),
 c AS (INSERT INTO checkins (patient_id, appointment_id, kind, questionnaire_key,
                             questionnaire_version, due_at)
       SELECT patient_id, id, 'after_visit', 'post_visit', 1, now() FROM a RETURNING id),
 m AS (INSERT INTO messages (kind, patient_id, appointment_id, checkin_id, location_id,
                             channel, send_at)
       SELECT 'checkin', a.patient_id, a.id, c.id, a.location_id, 'sms', now() FROM a, c
       RETURNING id),
 r AS (INSERT INTO messages (kind, patient_id, appointment_id, location_id, channel,
                             offset_minutes, send_at)
       SELECT 'reminder', patient_id, id, location_id, 'sms', 120, now() FROM a RETURNING id)
INSERT INTO message_links (token_hash, message_id, expires_at)
SELECT sha256(id::text::bytea), id, now() + interval '3 days' FROM m
"""


def test_the_checkin_revision_downgrades_with_its_messages_in_place(scratch_url: str) -> None:
    """Check-in invitations have links and (append-only) history: the downgrade of 0008
    takes them away and keeps every other message."""
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    engine = create_engine(scratch_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(CHECKIN_ROWS))
        command.downgrade(config, "3c8e51d2a7f4")
        with engine.connect() as connection:
            kinds = connection.execute(text("SELECT kind FROM messages")).scalars().all()
            events = connection.execute(text("SELECT count(*) FROM message_events")).scalar()
    finally:
        engine.dispose()
    assert (kinds, events) == (["reminder"], 1)
    command.upgrade(config, "head")


def _before(revision: str, config: Config) -> str:
    from alembic.script import ScriptDirectory

    down = ScriptDirectory.from_config(config).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


# A reminder in the middle of its send, as a worker leaves it between its two commits.
SENDING_ROW = """
WITH l AS (INSERT INTO locations (name, time_zone) VALUES ('Sending ' || gen_random_uuid(), 'UTC')
           RETURNING id),
 p AS (INSERT INTO patients (given_name, family_name, date_of_birth, time_zone)
       VALUES ('Sam', 'Lee', '1990-01-01', 'UTC') RETURNING id)
INSERT INTO messages (kind, patient_id, location_id, channel, offset_minutes, send_at, status,
                      attempts, sending_since)
SELECT 'reminder', p.id, l.id, 'email', 120, now(), 'sending', 1, now() - interval '1 minute'
FROM p, l RETURNING id
"""


def test_the_sending_revision_downgrades_a_send_in_progress_to_queued(scratch_url: str) -> None:
    """The older code knows no ``sending``: the row becomes ``queued`` since the send began,
    which its reaper returns for a resend (same Message-ID)."""
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    engine = create_engine(scratch_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            message_id = connection.execute(text(SENDING_ROW)).scalar_one()
        command.downgrade(config, _before("c5e8a2f47b93", config))
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT status, queued_at IS NOT NULL FROM messages WHERE id = :id"),
                {"id": message_id},
            ).one()
            history = connection.execute(
                text("SELECT status FROM message_events WHERE message_id = :id ORDER BY id"),
                {"id": message_id},
            ).scalars()
            statuses = list(history)
    finally:
        engine.dispose()
    assert tuple(row) == ("queued", True)
    assert statuses == ["sending", "queued"]
    command.upgrade(config, "head")


def test_history_is_one_line(scratch_url: str) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(scratch_url))
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_the_extensions_later_domains_need_are_installed(
    servers: Servers, scratch_url: str
) -> None:
    command.upgrade(alembic_config(scratch_url), "head")
    with psycopg.connect(servers.libpq_url(SCRATCH_DB)) as connection:
        rows = connection.execute("SELECT extname FROM pg_extension").fetchall()
    assert {"btree_gist", "pg_trgm", "citext"} <= {row[0] for row in rows}
