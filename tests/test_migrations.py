"""Migrations are code: up, check against the models, down to base, up again."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from services.models import metadata
from tests.servers import Servers, alembic_config

SCRATCH_DB = "clinic_test_migrations"
EXPECTED_TABLES = {
    "users",
    "auth_sessions",
    "login_failures",
    "audit_events",
    # clinic setup
    "locations",
    "rooms",
    "practitioners",
    "practitioner_locations",
    "working_hours",
    "schedule_exceptions",
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
}


@pytest.fixture(scope="module")
def scratch_url(servers: Servers) -> Iterator[str]:
    url = servers.recreate_database(SCRATCH_DB)
    yield url
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
