"""Two database roles: the app's own login cannot switch the database's guarantees off.

Everything here runs on whichever server the suite uses (embedded or
``CLINIC_TEST_DATABASE_URL``): the suite's app login is made the same way on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from services.core import db_roles
from services.core.settings import Environment, Settings, SettingsError
from tests.conftest import TEST_DB
from tests.servers import APP, OWNER, ROOT, Servers, alembic_config, migrate, own

# What the app may do to each table; a new table must be added here on purpose.
READ = {"SELECT"}
APPEND = {"SELECT", "INSERT"}
WRITE = {"SELECT", "INSERT", "UPDATE"}
WRITE_DELETE = WRITE | {"DELETE"}
EXPECTED = {
    "alembic_version": READ,
    "questionnaires": READ,
    **dict.fromkeys(
        (
            "audit_events",
            "patient_consents",
            "appointment_status_changes",
            "note_revisions",
            "note_addenda",
            "message_events",
            "checkin_answers",
        ),
        APPEND,
    ),
    **dict.fromkeys(
        (
            "auth_sessions",
            "throttle_counters",
            "idempotency_keys",
            "practitioner_locations",
            "working_hours",
            "schedule_exceptions",
            "location_closures",
            "checkin_policies",
            # Holds only: a trigger refuses the DELETE of any other appointment.
            "appointments",
            "online_booking_requests",
            "online_blocked_contacts",
        ),
        WRITE_DELETE,
    ),
}
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


async def test_each_table_grants_the_app_only_what_it_needs(connection: AsyncConnection) -> None:
    tables = (
        await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        )
    ).scalars()
    granted = {}
    for table in tables:
        rows = await connection.execute(
            text(
                "SELECT p FROM unnest(CAST(:privileges AS text[])) AS p"
                " WHERE has_table_privilege(current_user, CAST(:table AS regclass), p)"
            ),
            {"privileges": list(PRIVILEGES), "table": table},
        )
        granted[table] = set(rows.scalars())
    assert granted == {table: EXPECTED.get(table, WRITE) for table in granted}


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("SET session_replication_role = replica", "permission denied to set parameter"),
        ("ALTER TABLE patients DISABLE TRIGGER ALL", "must be owner"),
        ("DROP TABLE patients", "must be owner"),
        ("TRUNCATE patients", "permission denied"),
        ("CREATE TABLE stash (secret text)", "permission denied for schema public"),
        ("CREATE FUNCTION stash() RETURNS int LANGUAGE sql AS 'SELECT 1'", "permission denied"),
        ("ALTER TABLE patients ADD COLUMN stash text", "must be owner"),
        # PostgreSQL 15 and later versions word these two differently.
        (
            "CREATE ROLE intruder SUPERUSER",
            "permission denied to create role|must be superuser to create superusers",
        ),
        (f"GRANT clinic_app TO {OWNER.user}", "permission denied|must have admin option"),
    ],
)
async def test_the_app_login_has_no_ddl_and_no_superuser_switches(
    connection: AsyncConnection, statement: str, refusal: str
) -> None:
    savepoint = await connection.begin_nested()
    with pytest.raises(DBAPIError, match=refusal) as refused:
        await connection.execute(text(statement))
    await savepoint.rollback()
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


async def test_the_suites_app_login_passes_the_start_up_check(
    connection: AsyncConnection,
) -> None:
    assert await db_roles.login_problems_async(connection) == []
    user = (await connection.execute(text("SELECT current_user"))).scalar_one()
    assert user == APP.user


def _problems(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return db_roles.login_problems(connection)
    finally:
        engine.dispose()


def test_a_superuser_or_an_owner_is_named_by_the_check(servers: Servers) -> None:
    superuser = servers.url_for(TEST_DB, db_roles.Login.of(servers.database_url))
    assert _problems(superuser) == [
        f"the database login {superuser_name(servers)!r} is a superuser"
    ]
    (owner,) = _problems(servers.owner_url_for(TEST_DB))
    assert owner.startswith(f"the database login {OWNER.user!r} owns ")


def superuser_name(servers: Servers) -> str:
    return db_roles.Login.of(servers.database_url).user


def test_outside_development_an_unsafe_login_stops_the_process() -> None:
    problems = ["the database login 'postgres' is a superuser"]
    for env in (Environment.production, Environment.test):
        with pytest.raises(SettingsError, match="is a superuser: connect the API"):
            db_roles.enforce(problems, env)
    db_roles.enforce(problems, Environment.development)  # a warning only
    db_roles.enforce([], Environment.production)


@pytest.mark.slow
@pytest.mark.parametrize(
    "command_line",
    [
        ["-m", "services.cli", "api", "--port", "9"],
        ["-m", "celery", "-A", "workers.app", "worker", "--pool", "solo"],
        ["-m", "celery", "-A", "workers.app", "beat"],
    ],
    ids=["api", "worker", "beat"],
)
def test_api_worker_and_beat_refuse_to_start_as_the_owner(
    servers: Servers, settings: Settings, command_line: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_ENV": "production",
        "CLINIC_SECRET_KEY": settings.secret_key,
        "CLINIC_DATABASE_URL": servers.owner_url_for(TEST_DB),
        "CLINIC_REDIS_URL": servers.redis_url,
        "CLINIC_DATA_DIR": str(settings.data_dir),
        "CLINIC_TASK_QUEUE": "refused-login-test",
    }
    finished = subprocess.run(
        [sys.executable, *command_line],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode != 0
    assert f"the database login {OWNER.user!r} owns " in finished.stderr + finished.stdout


UPGRADE_DB = "clinic_test_upgrade"
PREVIOUS_HEAD = "8a41c6e0d2b7"  # the schema before the two roles


@pytest.fixture
def old_database(servers: Servers) -> Iterator[str]:
    """A database as the previous version left it: made, migrated and filled by the
    superuser (the embedded default's ``postgres``)."""
    with psycopg.connect(servers.libpq_url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{own(UPGRADE_DB)}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{own(UPGRADE_DB)}"')
    superuser_url = servers.url_for(UPGRADE_DB, db_roles.Login.of(servers.database_url))
    command.upgrade(alembic_config(superuser_url), PREVIOUS_HEAD)
    with psycopg.connect(servers.libpq_url(UPGRADE_DB)) as connection:
        connection.execute(
            "INSERT INTO audit_events (action, resource_type) VALUES ('read', 'old-row')"
        )
    yield UPGRADE_DB
    servers.drop_database(UPGRADE_DB)


def test_a_database_from_the_previous_version_upgrades_in_place(
    servers: Servers, old_database: str
) -> None:
    db_roles.provision(servers.libpq_url(), own(old_database), owner=OWNER, app=APP)
    migrate(servers.owner_url_for(old_database))
    with psycopg.connect(servers.libpq_url(old_database)) as connection:
        foreign = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> %s",
            (OWNER.user,),
        ).fetchone()
    assert foreign == (0,)
    assert _problems(servers.url_for(old_database)) == []
    engine = create_engine(servers.url_for(old_database), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            kept = connection.execute(
                text("SELECT action FROM audit_events WHERE resource_type = 'old-row'")
            ).scalar_one()
            with pytest.raises(DBAPIError, match="permission denied"):
                connection.execute(text("DELETE FROM audit_events"))
    finally:
        engine.dispose()
    assert kept == "read"
    # Provisioning again changes nothing (every `make run` does it).
    db_roles.provision(servers.libpq_url(), own(old_database), owner=OWNER, app=APP)
