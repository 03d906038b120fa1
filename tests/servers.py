"""The PostgreSQL and Redis the tests run against.

``CLINIC_TEST_DATABASE_URL`` / ``CLINIC_TEST_REDIS_URL`` name configured servers; without
them the embedded ones start under ``.clinic/test`` (the same code ``clinic dev`` uses).
Each test run creates its own databases on that server, from a migrated template.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, make_url

from services.core import db_roles, embedded

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DB = "clinic_test_template"
# The tests' two logins, made on whichever server they run against: databases belong to
# the owner (migrations run as it), and the app under test logs in as a member of
# clinic_app, exactly as in production. Passwords, for servers that ask for one.
OWNER = db_roles.Login("clinic_test_owner", "clinic-test-owner")
APP = db_roles.Login("clinic_test_app", "clinic-test-app")


@dataclass
class Servers:
    database_url: str  # a database on the server, used for maintenance (CREATE DATABASE)
    redis_url: str
    embedded: bool
    stops: list[Callable[[], None]] = field(default_factory=list)

    def url_for(self, database: str, login: db_roles.Login = APP) -> str:
        """The app's URL for ``database`` (pass ``OWNER`` for the owner's)."""
        url = make_url(self.database_url).set(
            drivername="postgresql+psycopg",
            database=database,
            username=login.user,
            password=login.password,
        )
        return url.render_as_string(hide_password=False)

    def owner_url_for(self, database: str) -> str:
        return self.url_for(database, OWNER)

    def libpq_url(self, database: str | None = None) -> str:
        url = make_url(self.database_url).set(drivername="postgresql")
        if database:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def recreate_database(self, name: str, *, template: str | None = None) -> str:
        with psycopg.connect(self.libpq_url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER.user}"{suffix}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.libpq_url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def start_test_servers() -> Servers:
    data_dir = ROOT / ".clinic" / "test"
    stops: list[Callable[[], None]] = []
    database_url = os.environ.get("CLINIC_TEST_DATABASE_URL")
    redis_url = os.environ.get("CLINIC_TEST_REDIS_URL")
    if not database_url:
        postgres = embedded.start_postgres(data_dir, database="postgres")
        stops.append(postgres.stop)
        database_url = postgres.url("postgres", user="postgres")
    if not redis_url:
        redis = embedded.start_redis(data_dir)
        stops.append(redis.stop)
        redis_url = redis.url
    create_logins(make_url(database_url).set(drivername="postgresql"))
    return Servers(
        database_url=database_url,
        redis_url=redis_url,
        embedded=bool(stops),
        stops=stops,
    )


def create_logins(maintenance: URL) -> None:
    """The owner and app logins (with the clinic_app group), unless they exist."""
    with psycopg.connect(maintenance.render_as_string(hide_password=False)) as connection:
        connection.autocommit = True
        connection.execute("SELECT pg_advisory_lock(hashtext('clinic test logins'))")
        db_roles.ensure_login(connection, OWNER)
        db_roles.ensure_app_login(connection, APP)


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def migrate(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
