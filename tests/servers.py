"""The PostgreSQL and Redis the tests run against.

``CLINIC_TEST_DATABASE_URL`` / ``CLINIC_TEST_REDIS_URL`` name configured servers; without
them the embedded ones start under ``.clinic/test`` (the same code ``clinic dev`` uses;
parallel workers share them). Each test run creates its own databases on that server,
from a migrated template.

Under pytest-xdist every worker has its own of everything: the database names a test
module fixes (``clinic_test_delivery``) become the worker's (``clinic_test_delivery_gw1``)
inside ``Servers``, the template included, and its Redis is a database number of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
# "gw0", "gw1", … under pytest-xdist; empty in a plain run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def own(database: str) -> str:
    """This worker's copy of a database name (the name itself in a plain run)."""
    return f"{database}_{WORKER}" if WORKER else database


def _own_redis(url: str) -> str:
    """This worker's Redis database: the URL's number (0 when it names none) plus the
    worker's index, so two workers' queues and results never meet."""
    if not WORKER:
        return url
    parts = urlsplit(url)
    number = parts.path.strip("/")
    start = int(number) if number.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{start + int(WORKER.removeprefix('gw'))}"))


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
            database=own(database),
            username=login.user,
            password=login.password,
        )
        return url.render_as_string(hide_password=False)

    def owner_url_for(self, database: str) -> str:
        return self.url_for(database, OWNER)

    def libpq_url(self, database: str | None = None) -> str:
        url = make_url(self.database_url).set(drivername="postgresql")
        if database:
            url = url.set(database=own(database))
        return url.render_as_string(hide_password=False)

    def recreate_database(self, name: str, *, template: str | None = None) -> str:
        with psycopg.connect(self.libpq_url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{own(name)}" WITH (FORCE)')
            suffix = f' TEMPLATE "{own(template)}"' if template else ""
            connection.execute(f'CREATE DATABASE "{own(name)}" OWNER "{OWNER.user}"{suffix}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.libpq_url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{own(name)}" WITH (FORCE)')

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
        redis_url=_own_redis(redis_url),
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
