"""A uvicorn server for the benchmarks, in a process of its own that stops by itself.

``python -m tests.bench.serve FACTORY PORT LIFETIME [WORKERS]`` runs the app factory
``FACTORY`` (``module:function``; it reads the ``CLINIC_*`` settings from the environment) on
127.0.0.1:PORT with the options ``clinic api`` uses. It exits when the process that started
it goes away, or after LIFETIME seconds, whichever comes first.

``WORKERS`` (default ``CLINIC_API_WORKERS``, else 1) is the number of API processes, as in
``clinic api --workers N``: above 1, uvicorn's supervisor (this process) starts that many
worker processes sharing the port, each with its own database pool, and
``PROMETHEUS_MULTIPROC_DIR`` names a folder of this server's own (a new temporary one,
removed at the end) where they keep their metrics, so ``/metrics`` sums them.

``create_floor_app`` is the booking benchmark's floor: the same settings, the same database
pool (``Database.from_url`` with ``CLINIC_DB_POOL_SIZE``), the same request body, and an
endpoint that does nothing but one INSERT into a table with the practitioner exclusion
constraint of ``appointments`` (``schedule_data.create_floor_table``).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import uvicorn
from fastapi import FastAPI
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import text

from services.core.database import Database
from services.core.health import MULTIPROCESS_DIR
from services.core.settings import get_settings
from tests.bench.schedule_data import FLOOR_TABLE, FOLLOW_UP

FLOOR_PATH = "/floor/bookings"
HELD = timedelta(minutes=FOLLOW_UP.minutes + FOLLOW_UP.buffer_after)
_INSERT = text(
    f"INSERT INTO {FLOOR_TABLE} (practitioner_id, during)"  # noqa: S608 - a constant name
    " VALUES (:practitioner_id, tstzrange(:starts_at, :ends_at, '[)')) RETURNING id"
)


class FloorBooking(BaseModel):
    """The body of ``POST /api/v1/appointments``, as the benchmark sends it."""

    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    appointment_type_id: uuid.UUID
    starts_at: AwareDatetime


class FloorCreated(BaseModel):
    id: uuid.UUID


def create_floor_app() -> FastAPI:
    settings = get_settings()
    assert settings.database_url
    database = Database.from_url(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = FastAPI(title="booking floor", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(FLOOR_PATH, status_code=201)
    async def book(body: FloorBooking) -> FloorCreated:
        async with database.session_scope() as session:
            new_id = await session.scalar(
                _INSERT,
                {
                    "practitioner_id": body.practitioner_id,
                    "starts_at": body.starts_at,
                    "ends_at": body.starts_at + HELD,
                },
            )
        return FloorCreated(id=new_id)

    return app


def _watch(parent: int, lifetime: float) -> None:
    """Stop (gracefully, then hard) once the parent is gone or the lifetime is over."""
    deadline = time.monotonic() + lifetime
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(15)
    os._exit(3)


def main() -> None:
    factory, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    workers = int(sys.argv[4] if len(sys.argv) > 4 else os.environ.get("CLINIC_API_WORKERS", 1))
    threading.Thread(target=_watch, args=(os.getppid(), lifetime), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="clinic-bench-metrics-") as metrics:
        if workers > 1:
            os.environ[MULTIPROCESS_DIR] = metrics  # the processes uvicorn starts inherit it
        uvicorn.run(
            factory,  # an import string: each worker process imports it itself
            factory=True,
            host="127.0.0.1",
            port=port,
            workers=workers,
            access_log=False,
            proxy_headers=True,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )


if __name__ == "__main__":
    main()
