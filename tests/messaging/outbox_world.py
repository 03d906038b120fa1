"""A committed database, real worker and beat processes, and an SMTP server, for the tests
that run the outbox end to end (nothing here is rolled back between steps)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

from services.appointments.models import Appointment
from services.clinic.models import AppointmentType, Location, Practitioner
from services.core.auth.models import User
from services.messaging.models import Message
from services.patients.models import Patient, PatientConsent
from tests.conftest import TEST_SECRET
from tests.servers import ROOT

SLOT = timedelta(minutes=30)


def quiet_hours_away_from_now() -> str:
    """A one-hour quiet window (UTC patients) twelve hours from now: never in the way."""
    start = datetime.now(UTC) + timedelta(hours=12)
    end = start + timedelta(hours=1)
    return f"{start:%H}:00-{end:%H}:00"


@dataclass
class World:
    """Processes share ``env``: the test's database, Redis, SMTP server and a queue."""

    database_url: str
    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(
        cls, database_url: str, redis_url: str, smtp_port: int | None, tmp: Path, **extra: str
    ) -> World:
        """``smtp_port`` None: no SMTP server, emails go to the outbox folder."""
        env = {
            **os.environ,
            "CLINIC_ENV": "test",
            "CLINIC_SECRET_KEY": TEST_SECRET,
            "CLINIC_DATABASE_URL": database_url,
            "CLINIC_REDIS_URL": redis_url,
            "CLINIC_DATA_DIR": str(tmp),
            "CLINIC_TASK_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "CLINIC_DISPATCH_INTERVAL_SECONDS": "0.5",
            "CLINIC_QUEUED_TIMEOUT_SECONDS": "4",
            # Above the SMTP timeout (20 s): a stalled send is never resent under its worker.
            "CLINIC_SENDING_TIMEOUT_SECONDS": "25",
            "CLINIC_QUIET_HOURS": quiet_hours_away_from_now(),
            "CLINIC_LOG_JSON": "true",
            **extra,
        }
        if smtp_port is not None:
            env |= {
                "CLINIC_SMTP_HOST": "127.0.0.1",
                "CLINIC_SMTP_PORT": str(smtp_port),
                "CLINIC_SMTP_SECURITY": "none",
            }
        else:
            env.pop("CLINIC_SMTP_HOST", None)
        return cls(database_url, env, tmp)

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}-{len(self.processes)}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", *args, "--loglevel", "INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def worker(self, *, threads: int = 0, prefork: int = 0) -> subprocess.Popen[bytes]:
        """One task at a time (solo), ``threads`` at once in one process (a threads pool:
        the tasks share the process's database engine and SMTP sessions), or ``prefork``
        child processes (Celery's default pool, as ``clinic worker`` runs it)."""
        queue = self.env["CLINIC_TASK_QUEUE"]
        name = f"{queue}-{len(self.processes)}@%h"
        if threads:
            pool = ["--pool", "threads", "--concurrency", str(threads)]
        elif prefork:
            pool = ["--pool", "prefork", "--concurrency", str(prefork)]
        else:
            pool = ["--pool", "solo"]
        return self._start("worker", "worker", *pool, "-n", name)

    def beat(self) -> subprocess.Popen[bytes]:
        schedule = self.log_dir / f"beat-{len(self.processes)}.schedule"
        return self._start("beat", "beat", "--schedule", str(schedule))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def engine_for(database_url: str):  # type: ignore[no-untyped-def]
    return create_engine(database_url, pool_size=2)


def seed(database_url: str, count: int, *, send_at: datetime | None = None) -> list[uuid.UUID]:
    """``count`` due reminders by email, about 100 booked visits of consenting patients."""
    engine = engine_for(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine) as session, session.begin():
        user = User(
            email=f"dr-{uuid.uuid4().hex[:8]}@clinic.example",
            full_name="Ada Atlas",
            password_hash="x",
            roles=["chiropractor"],
        )
        location = Location(name=f"Outbox {uuid.uuid4().hex[:6]}", time_zone="UTC")
        kind = AppointmentType(
            name=f"Adjustment {uuid.uuid4().hex[:6]}", duration_minutes=30, colour="#336699"
        )
        session.add_all([user, location, kind])
        session.flush()
        practitioner = Practitioner(user_id=user.id, display_name="Dr. Ada Atlas")
        session.add(practitioner)
        session.flush()
        first_start = now + timedelta(days=3)
        visits = max(1, min(100, count))
        appointments = []
        for n in range(visits):
            patient = Patient(
                given_name=f"Pat{n}",
                family_name="Outbox",
                date_of_birth=date(1980, 1, 1),
                time_zone="UTC",
                email=f"pat{n}-{uuid.uuid4().hex[:6]}@example.com",
                preferred_channel="email",
            )
            session.add(patient)
            session.flush()
            session.add(
                PatientConsent(
                    patient_id=patient.id,
                    channel="email",
                    granted=True,
                    method="written",
                    recorded_at=now - timedelta(days=1),
                )
            )
            starts = first_start + n * SLOT
            appointment = Appointment(
                patient_id=patient.id,
                practitioner_id=practitioner.id,
                location_id=location.id,
                appointment_type_id=kind.id,
                starts_at=starts,
                ends_at=starts + SLOT,
                held_from=starts,
                held_until=starts + SLOT,
            )
            session.add(appointment)
            appointments.append(appointment)
        session.flush()
        rows = [
            {
                "kind": "reminder",
                "patient_id": appointments[n % visits].patient_id,
                "appointment_id": appointments[n % visits].id,
                "appointment_starts_at": appointments[n % visits].starts_at,
                "location_id": location.id,
                "channel": "email",
                "offset_minutes": 1000 + n,
                "send_at": send_at or now - timedelta(seconds=1),
            }
            for n in range(count)
        ]
        ids = list(session.scalars(insert(Message).returning(Message.id), rows))
    engine.dispose()
    return ids


def statuses(database_url: str, ids: list[uuid.UUID]) -> dict[str, int]:
    engine = engine_for(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Message.status, func.count()).where(Message.id.in_(ids)).group_by(Message.status)
        )
        found = {status: int(n) for status, n in rows}
    engine.dispose()
    return found


def wait_until_sent(
    database_url: str, ids: list[uuid.UUID], timeout: float, world: World
) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        found = statuses(database_url, ids)
        if found.get("sent", 0) == len(ids):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not all sent after {timeout}s: {found}\n{world.logs()[-4000:]}")
        time.sleep(0.5)
