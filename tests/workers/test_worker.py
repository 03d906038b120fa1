"""A real Celery worker process, on the real Redis and PostgreSQL, runs a real task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from celery import Celery

from services.core import clock
from services.core.settings import get_settings
from tests.conftest import TEST_SECRET
from tests.servers import ROOT, TEMPLATE_DB, Servers

WORKER_DB = "clinic_test_worker"
PURGE = "workers.tasks.maintenance.purge_expired_sessions"


@pytest.fixture(scope="module")
def worker_db(servers: Servers) -> Iterator[str]:
    servers.recreate_database(WORKER_DB, template=TEMPLATE_DB)
    yield servers.libpq_url(WORKER_DB)
    servers.drop_database(WORKER_DB)


@pytest.fixture(scope="module")
def queue() -> str:
    # A queue of its own, so a `clinic dev` on the same Redis cannot take these tasks.
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def worker(
    servers: Servers, worker_db: str, queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CLINIC_ENV": "test",
        "CLINIC_SECRET_KEY": TEST_SECRET,
        "CLINIC_DATABASE_URL": servers.url_for(WORKER_DB),
        "CLINIC_REDIS_URL": servers.redis_url,
        "CLINIC_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
    }
    log = Path(tmp_path_factory.mktemp("worker-log")) / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "workers.app", "worker",
                "--pool", "solo", "-Q", queue, "-n", f"{queue}@%h", "--loglevel", "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield process
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def client_app(servers: Servers) -> Celery:
    """The sending side: a bare client, as the API would be, not the worker's module."""
    return Celery("test-client", broker=servers.redis_url, backend=servers.redis_url)


def _insert_sessions(worker_db: str) -> uuid.UUID:
    old = clock.utcnow() - timedelta(days=40)
    now = clock.utcnow()
    with psycopg.connect(worker_db) as connection:
        user_id = connection.execute(
            "INSERT INTO users (email, full_name, password_hash, roles) "
            "VALUES (%s, 'Worker Probe', 'x', ARRAY['front_desk']) RETURNING id",
            (f"probe-{uuid.uuid4().hex[:8]}@clinic.example",),
        ).fetchone()[0]  # type: ignore[index]
        for token, expires in ((b"o" * 32, old), (b"f" * 32, now + timedelta(hours=1))):
            connection.execute(
                "INSERT INTO auth_sessions (user_id, token_hash, created_at, last_seen_at, "
                "expires_at) VALUES (%s, %s, %s, %s, %s)",
                (user_id, token, old, old, expires),
            )
    return uuid.UUID(str(user_id))


def test_a_worker_process_runs_a_task_against_the_database(
    worker: subprocess.Popen[bytes], client_app: Celery, queue: str, worker_db: str
) -> None:
    user_id = _insert_sessions(worker_db)
    result = client_app.send_task(PURGE, queue=queue)
    assert result.get(timeout=60) == {"sessions": 1, "throttle_counters": 0, "idempotency_keys": 0}
    with psycopg.connect(worker_db) as connection:
        left = connection.execute(
            "SELECT count(*) FROM auth_sessions WHERE user_id = %s", (user_id,)
        ).fetchone()
    assert left == (1,)  # the live session stays
    # Idempotent: a redelivered copy of the same task finds nothing more to do.
    again = client_app.send_task(PURGE, queue=queue)
    assert again.get(timeout=60) == {"sessions": 0, "throttle_counters": 0, "idempotency_keys": 0}
    assert worker.poll() is None


def test_the_worker_runs_with_the_reliability_settings() -> None:
    env_before = dict(os.environ)
    os.environ.setdefault("CLINIC_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()  # another test may have read the settings before the variable
    try:
        from workers.app import VISIBILITY_TIMEOUT, create_celery

        conf = create_celery().conf
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        get_settings.cache_clear()
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT
    assert conf.task_time_limit < VISIBILITY_TIMEOUT
    assert conf.beat_schedule, "the beat schedule lives in code"
