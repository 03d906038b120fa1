"""Schemathesis over the whole OpenAPI schema, in-process and signed in as an admin.

For every operation it generates valid and invalid requests and checks: no 5xx, responses
and headers match the schema, documented status codes only, bad input rejected.
Runs on a database of its own (cloned from the migrated template), since it commits.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.app import create_app
from services.core import clock
from services.core.database import Database
from services.core.settings import Environment, Settings
from services.core.tokens import hash_token, new_token
from tests.factories import password_hash
from tests.servers import TEMPLATE_DB, Servers

FUZZ_DB = "clinic_test_fuzz"


class FuzzTarget:
    def __init__(self, libpq_url: str, secret_key: str) -> None:
        self.secret_key = secret_key
        # One connection for the whole module: opening one per call (a PostgreSQL backend
        # started for a single INSERT) took nearly as long as the API call it signed in.
        self.connection = psycopg.connect(libpq_url, autocommit=True)
        row = self.connection.execute(
            "INSERT INTO users (email, full_name, password_hash, roles) "
            "VALUES ('fuzz-admin@clinic.example', 'Fuzz Admin', %s, "
            "ARRAY['admin', 'chiropractor', 'front_desk']) RETURNING id",
            (password_hash(),),
        ).fetchone()
        assert row is not None
        self.admin_id = row[0]

    def fresh_token(self) -> str:
        """A new session per call, so fuzzing the logout route cannot sign the others out."""
        token, now = new_token(), clock.utcnow()
        self.connection.execute(
            "INSERT INTO auth_sessions (user_id, token_hash, created_at, last_seen_at, "
            "expires_at) VALUES (%s, %s, %s, %s, %s)",
            (
                self.admin_id,
                hash_token(token, self.secret_key),
                now,
                now,
                now + timedelta(hours=1),
            ),
        )
        return token

    def close(self) -> None:
        self.connection.close()


# "format: phone" (services/core/phones.py) is checked against the numbering plan, which no
# pattern can express: generate numbers that are valid, written the ways people type them.
schemathesis.openapi.format(
    "phone",
    st.sampled_from(["+1 312 555 0142", "(312) 555-0199", "312.960.4400", "+44 20 7946 0958"]),
)


# "format: icd-10-cm" (services/notes/content.py): complete codes from the shipped list.
schemathesis.openapi.format(
    "icd-10-cm", st.sampled_from(["G43.909", "M79.7", "M54.2", "G44.209", "m797", "R51.9"])
)


# "format: birth-date" (services/patients/schemas.py): 1900-01-01 up to today.
schemathesis.openapi.format(
    "birth-date",
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()).map(date.isoformat),
)


def _schema_only_app() -> FastAPI:
    # Only to read the schema at collection time: nothing connects to these URLs.
    unused = Settings(
        env=Environment.test,  # the routes of the app under test (no development routes)
        secret_key="schema-only-" + "x" * 32,
        database_url="postgresql+psycopg://postgres@127.0.0.1:9/unused",
        redis_url="redis://127.0.0.1:9/0",
        _env_file=None,
    )
    return create_app(unused, database=Database.from_url(str(unused.database_url)))


schema = schemathesis.openapi.from_asgi("/openapi.json", _schema_only_app())
# Off: schemathesis would put string literals from the app's source ("Cache-Control",
# "nosniff", …) into any string field as "valid" values, including the custom formats above,
# which it cannot check; the API's right 422 for such a phone number was then a failure.
schema.config.analysis.constants.enabled = False


@pytest.fixture(scope="module")
async def fuzz_app(servers: Servers, settings: Settings) -> AsyncIterator[FastAPI]:
    servers.recreate_database(FUZZ_DB, template=TEMPLATE_DB)
    url = servers.url_for(FUZZ_DB)
    # A clinic is set up before patients are registered: with no location, a patient
    # without a time zone is a 422 the schema cannot state (the order operations run in,
    # or a -k filter, must not decide that).
    with psycopg.connect(servers.libpq_url(FUZZ_DB), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO locations (name, time_zone) VALUES ('Fuzz clinic', 'America/Chicago')"
        )
    # Pooled, as in production: with a new connection per request (NullPool) every call
    # waited for a PostgreSQL backend to start, over 40% of its time. The calls come one at
    # a time and psycopg's async connections are not tied to an event loop, so the pool
    # serves whether schemathesis runs them on one loop (as 4.32 does) or a new one each.
    database = Database.from_url(url)
    yield create_app(settings.model_copy(update={"database_url": url}), database=database)
    # Closed before the database is dropped (schemathesis ends the app's lifespan at exit).
    await database.dispose()
    servers.drop_database(FUZZ_DB)


@pytest.fixture(scope="module")
def fuzz_target(servers: Servers, settings: Settings, fuzz_app: FastAPI) -> Iterator[FuzzTarget]:
    target = FuzzTarget(servers.libpq_url(FUZZ_DB), settings.secret_key)
    yield target
    target.close()


@schema.parametrize()
@hypothesis_settings(
    # CLINIC_FUZZ_EXAMPLES=500 for a deeper local run; CI stays bounded. An operation with
    # no body and no parameters needs no smaller setting (#15): Hypothesis stops after one
    # example when there is nothing to vary, and its coverage cases are a handful.
    max_examples=int(os.environ.get("CLINIC_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, fuzz_app: FastAPI, fuzz_target: FuzzTarget) -> None:
    case.call_and_validate(
        app=fuzz_app, headers={"Authorization": f"Bearer {fuzz_target.fresh_token()}"}
    )
