"""Scheduling at 1,000,000 appointments over real HTTP: booking, availability, day sheet.

Run with ``make bench`` (or alone: ``python -m tests.bench.scheduling``). It starts the test
servers (embedded unless ``CLINIC_TEST_*_URL`` are set), finds or generates the data in the
``clinic_bench_schedule`` database (``tests/bench/schedule_data.py``, kept between runs), and
starts two uvicorn processes on 127.0.0.1, each on a free port, with the same options and
settings (``tests/bench/serve.py``): the app, and the floor app, whose one endpoint does a
single INSERT into ``bench_floor_bookings`` (the practitioner exclusion constraint of
``appointments``, over the same ~1M held ranges). Both stop by themselves.

1. Booking: ``BENCH_CLIENTS`` concurrent clients (httpx AsyncClients, one keep-alive
   connection each) send ``BENCH_BOOKINGS`` ``POST /api/v1/appointments`` as a front-desk user,
   each a distinct slot of a 20-minute follow-up at least two days ahead, free for the
   practitioner and for the patient (planned from the database; practitioners round-robin,
   each one's slots from its own stretch of weeks, so requests in flight never compete for a
   practitioner, a room or a patient). The floor gets the same bodies, count and concurrency.
   Both are warmed up first, and measured in alternating halves. Reported: bookings/s, p50,
   p99, and ours/floor. Any answer but 201 fails the run.
2. Availability: ``GET /api/v1/availability`` for one practitioner (a different one each
   request) and one week, ``BENCH_N`` sequential requests, p50/p99, against ``/healthz`` on
   the same server in the same run (interleaved rounds, like ``http.py``).
3. Day sheet: ``GET /api/v1/schedule`` for the location on one of the last five (full)
   weekdays, the same way.

Every row also shows the server process's CPU per request ("srv CPU ms", from psutil): on a
small machine the clients, the servers and PostgreSQL share the cores, and that figure is
the cost that does not depend on how they were shared.

The bookings stay in the database (about ``BENCH_BOOKINGS`` a run, out of ~95,000 free future
slots); the floor's rows are deleted. Knobs (defaults): ``BENCH_BOOKINGS`` (2000),
``BENCH_CLIENTS`` (32), ``BENCH_N`` (200), ``BENCH_POOL_SIZE`` (10, both apps' pool, as
``CLINIC_DB_POOL_SIZE``), ``BENCH_SECONDS`` (120, time limit of each phase),
``BENCH_REGENERATE``, ``BENCH_APPOINTMENTS``, ``BENCH_PATIENTS`` (``schedule_data``).
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import httpx
import psutil
import psycopg

from services.core import clock
from services.core.tokens import hash_token, new_token
from tests.bench import SECRET, env_int
from tests.bench import schedule_data as data
from tests.bench.serve import FLOOR_PATH
from tests.factories import password_hash
from tests.servers import ROOT, Servers, start_test_servers

BOOK_PATH = "/api/v1/appointments"
WARMUP_BOOKINGS = 64
WARMUP = 20
ROUNDS = 5
STAFF_EMAIL = "frontdesk@bench.example"


@dataclass(frozen=True)
class Knobs:
    bookings: int = field(default_factory=lambda: env_int("BENCH_BOOKINGS", 2000))
    clients: int = field(default_factory=lambda: env_int("BENCH_CLIENTS", 32))
    n: int = field(default_factory=lambda: env_int("BENCH_N", 200))
    pool_size: int = field(default_factory=lambda: env_int("BENCH_POOL_SIZE", 10))
    seconds: float = field(default_factory=lambda: float(env_int("BENCH_SECONDS", 120)))

    @property
    def server_lifetime(self) -> float:
        """Long enough for every phase, warm-ups and start-up included."""
        return 6 * self.seconds + 120


# Planning the bookings


@dataclass(frozen=True)
class Booking:
    practitioner: int
    patient: int
    starts_at: datetime  # in the location's zone

    def body(self) -> dict[str, str]:
        return {
            "patient_id": str(data.patient_id(self.patient)),
            "practitioner_id": str(data.practitioner_id(self.practitioner)),
            "appointment_type_id": str(data.type_id(data.FOLLOW_UP)),
            "starts_at": self.starts_at.isoformat(),
        }


def _slots_of(held_from: datetime, held_until: datetime) -> Iterator[tuple[date, int]]:
    """The grid slots a held range touches (a visit booked elsewhere may be off the grid)."""
    local = held_from.astimezone(data.ZONE)
    day = local.date()
    first = data.slot_start(day, 0)
    index = math.floor((local - first) / data.SLOT)
    while True:
        start = data.slot_start(day, index)
        if start >= held_until:
            return
        if 0 <= index < data.SLOTS_PER_DAY:
            yield day, index
        index += 1


def plan_bookings(
    connection: psycopg.Connection[Any], meta: data.Meta, count: int
) -> list[Booking]:
    """``count`` bookings in free grid slots from two days ahead to the generated future's end.

    A slot is free when nothing holding time touches it for the practitioner, and nothing
    for the pool patient the slot is given to (earlier runs' bookings included).
    """
    first_day = datetime.now(data.ZONE).date() + timedelta(days=2)
    days = [
        first_day + timedelta(days=k)
        for k in range((meta.future_until - first_day).days)
        if data.is_workday(first_day + timedelta(days=k))
    ]
    if len(days) < 20:
        raise RuntimeError("too little generated future left: run with BENCH_REGENERATE=1")
    index_of = {data.practitioner_id(p): p for p in range(data.PRACTITIONERS)}
    pool = {data.patient_id(n) for n in range(data.POOL)}
    taken: set[tuple[int, date, int]] = set()
    busy: set[tuple[Any, date, int]] = set()
    rows = connection.execute(
        "SELECT practitioner_id, patient_id, held_from, held_until FROM appointments"  # noqa: S608
        f" WHERE held_until > %s AND {data.HOLDS_TIME}",
        (data.slot_start(first_day, 0),),
    )
    for practitioner, patient, held_from, held_until in rows:
        for day, slot in _slots_of(held_from, held_until):
            if practitioner in index_of:
                taken.add((index_of[practitioner], day, slot))
            if patient in pool:
                busy.add((patient, day, slot))
    per_practitioner = math.ceil(count / data.PRACTITIONERS)
    free: list[list[Booking]] = []
    for p in range(data.PRACTITIONERS):
        mine: list[Booking] = []
        offset = p * len(days) // data.PRACTITIONERS  # each practitioner's own stretch
        for k in range(len(days)):
            day = days[(offset + k) % len(days)]
            for slot in range(data.SLOTS_PER_DAY):
                patient = data.booking_patient(p, day, slot)
                if (p, day, slot) in taken or (data.patient_id(patient), day, slot) in busy:
                    continue
                mine.append(Booking(p, patient, data.slot_start(day, slot)))
                if len(mine) == per_practitioner:
                    break
            if len(mine) == per_practitioner:
                break
        if len(mine) < per_practitioner:
            raise RuntimeError("not enough free slots left: run with BENCH_REGENERATE=1")
        free.append(mine)
    return [free[p][k] for k in range(per_practitioner) for p in range(data.PRACTITIONERS)][:count]


def insert_staff(servers: Servers) -> str:
    """A front-desk user (kept between runs) and a new session; answers the bearer token."""
    token = new_token()
    now = clock.utcnow()
    with psycopg.connect(servers.libpq_url(data.BENCH_DB)) as connection:
        connection.execute(
            "INSERT INTO users (id, email, full_name, password_hash, roles)"
            " VALUES (%s, %s, 'Bench Front Desk', %s, %s) ON CONFLICT (id) DO NOTHING",
            (data.entity_id("user", "front-desk"), STAFF_EMAIL, password_hash(), ["front_desk"]),
        )
        connection.execute(
            "INSERT INTO auth_sessions (user_id, token_hash, created_at, last_seen_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                data.entity_id("user", "front-desk"),
                hash_token(token, SECRET),
                now,
                now,
                now + timedelta(hours=12),
            ),
        )
    return token


# The servers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str
    process: psutil.Process

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (all its threads)."""
        times = self.process.cpu_times()
        return times.user + times.system


@contextmanager
def serving(factory: str, env: dict[str, str], lifetime: float) -> Iterator[Server]:
    """A uvicorn process running ``factory``, once its /healthz answers."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.serve", factory, str(port), str(lifetime)],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{factory} exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{factory} did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield Server(base, psutil.Process(process.pid))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Measuring


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0  # seconds of the server process's CPU
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request, in milliseconds."""
        return self.server_cpu / self.n * 1000 if self.n else float("nan")

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def p(self, q: int) -> float:
        """The q-th percentile in milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


async def _book_all(
    clients: list[httpx.AsyncClient],
    path: str,
    bodies: list[dict[str, str]],
    headers: dict[str, str],
    deadline: float,
    phase: Phase,
) -> None:
    """Send every body, one request in flight per client; none taken after the deadline."""
    pending = iter(bodies)

    async def one_client(client: httpx.AsyncClient) -> None:
        for body in pending:  # shared: each body is taken once
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.HTTPError as error:  # counted as status 0, like any other failure
                status, detail = 0, repr(error)
            else:
                status, detail = response.status_code, response.text[:400]
            phase.latencies.append(time.perf_counter() - start)
            phase.statuses[status] += 1
            if status != 201 and len(phase.failures) < 5:
                phase.failures.append(f"{status} {detail}")

    start = time.perf_counter()
    await asyncio.gather(*(one_client(client) for client in clients))
    phase.seconds += time.perf_counter() - start


async def measure_bookings(
    app: Server, floor: Server, token: str, plan: list[Booking], knobs: Knobs
) -> dict[str, Phase]:
    """Warm both up, then alternate halves: floor, ours, floor, ours.

    Each of the concurrent clients is its own AsyncClient with one keep-alive connection:
    one client sharing a 32-connection pool costs ~3x the CPU per request (measured), and
    on a small machine that CPU is taken from the servers being measured.
    """
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [booking.body() for booking in plan]
    warmup, measured = bodies[:WARMUP_BOOKINGS], bodies[WARMUP_BOOKINGS:]
    half = len(measured) // 2
    targets = {"floor": (floor, FLOOR_PATH, {}), "ours": (app, BOOK_PATH, headers)}
    phases = {name: Phase() for name in targets}
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = {
        name: [
            httpx.AsyncClient(base_url=server.base, limits=one, timeout=30)
            for _ in range(knobs.clients)
        ]
        for name, (server, _, _) in targets.items()
    }
    try:
        for name, (_, path, extra) in targets.items():
            warm = Phase()
            deadline = time.monotonic() + knobs.seconds
            await _book_all(clients[name], path, warmup, extra, deadline, warm)
            if warm.non_2xx:
                raise RuntimeError(f"{name}: warm-up booking failed: {warm.failures[0]}")
        for part in (measured[:half], measured[half:]):  # alternating, so drift hits both
            for name, (server, path, extra) in targets.items():
                deadline = time.monotonic() + knobs.seconds / 2
                cpu = server.cpu()
                await _book_all(clients[name], path, part, extra, deadline, phases[name])
                phases[name].server_cpu += server.cpu() - cpu
    finally:
        for client in (c for group in clients.values() for c in group):
            await client.aclose()
    return phases


async def measure_reads(
    server: Server, token: str, requests: dict[str, list[tuple[str, dict[str, str]]]], n: int
) -> dict[str, Phase]:
    """Sequential GETs, each name's list cycled, in interleaved rounds; /healthz is the floor."""
    headers = {"Authorization": f"Bearer {token}"}
    phases = {name: Phase() for name in requests}
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:

        async def one(name: str, k: int) -> float:
            path, params = requests[name][k % len(requests[name])]
            start = time.perf_counter()
            response = await client.get(path, params=params, headers=headers)
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
            return elapsed

        for name in requests:
            for k in range(WARMUP):
                await one(name, k)
        per_round = max(1, n // ROUNDS)
        for r in range(ROUNDS):
            for name in requests:
                start, cpu = time.perf_counter(), server.cpu()
                for k in range(r * per_round, (r + 1) * per_round):
                    phases[name].latencies.append(await one(name, k))
                phases[name].seconds += time.perf_counter() - start
                phases[name].server_cpu += server.cpu() - cpu
    return phases


def availability_requests(meta: data.Meta) -> list[tuple[str, dict[str, str]]]:
    """One week (Monday to Monday, local) two weeks ahead, one practitioner per request."""
    today = datetime.now(data.ZONE).date()
    monday = today + timedelta(days=14 - today.weekday())
    start = datetime.combine(monday, clock_time(0), tzinfo=data.ZONE)
    end = datetime.combine(monday + timedelta(days=7), clock_time(0), tzinfo=data.ZONE)
    assert monday + timedelta(days=7) <= meta.future_until
    return [
        (
            "/api/v1/availability",
            {
                "appointment_type_id": str(data.type_id(data.FOLLOW_UP)),
                "practitioner_id": str(data.practitioner_id(p)),
                "from": start.isoformat(),
                "to": end.isoformat(),
            },
        )
        for p in range(data.PRACTITIONERS)
    ]


def day_sheet_requests() -> list[tuple[str, dict[str, str]]]:
    """The location's day on each of the last five weekdays before today (the dense past)."""
    day = datetime.now(data.ZONE).date()
    days: list[date] = []
    while len(days) < 5:
        day -= timedelta(days=1)
        if data.is_workday(day):
            days.append(day)
    return [
        ("/api/v1/schedule", {"date": d.isoformat(), "location_id": str(data.LOCATION_ID)})
        for d in days
    ]


# Reporting


def _row(name: str, phase: Phase) -> str:
    return (
        f"{name:<34}{phase.n:>6}{phase.rate:>9.1f}{phase.p(50):>9.2f}{phase.p(99):>9.2f}"
        f"{phase.cpu_ms:>12.2f}{phase.non_2xx:>8}"
    )


HEADER = f"{'':<34}{'n':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'srv CPU ms':>12}{'non-2xx':>8}"


def report(
    servers: Servers,
    meta: data.Meta,
    generated_now: bool,
    knobs: Knobs,
    bookings: dict[str, Phase],
    availability: dict[str, Phase],
    day_sheet: dict[str, Phase],
    day_sheet_rows: float,
) -> None:
    kind = "embedded" if servers.embedded else "configured (CLINIC_TEST_*_URL)"
    print(f"python {platform.python_version()} | nproc {os.cpu_count()} | servers: {kind}")
    for line in data.describe(meta, generated_now):
        print(line)
    floor, ours = bookings["floor"], bookings["ours"]
    print(
        f"booking: {knobs.clients} concurrent clients, uvicorn (1 process, 127.0.0.1),"
        f" pool {knobs.pool_size}:"
    )
    print(HEADER)
    print(_row("floor: one INSERT + EXCLUDE", floor))
    print(_row(f"POST {BOOK_PATH}", ours))
    print("reads: sequential, one client, same server as the bookings:")
    print(HEADER)
    print(_row("floor: GET /healthz", availability["healthz"]))
    print(_row("GET /api/v1/availability (1 week)", availability["availability"]))
    print(_row("floor: GET /healthz", day_sheet["healthz"]))
    print(_row(f"GET /api/v1/schedule (~{day_sheet_rows:.0f} appts)", day_sheet["schedule"]))
    ratio = ours.rate / floor.rate
    print(
        f"summary: booking {ours.rate:.1f}/s (p50 {ours.p(50):.1f} ms, p99 {ours.p(99):.1f} ms)"
        f" vs floor {floor.rate:.1f}/s (p50 {floor.p(50):.1f} ms, p99 {floor.p(99):.1f} ms):"
        f" throughput ours/floor = {ratio:.2f} (goal >= 0.70),"
        f" p50 ours/floor = {ours.p(50) / floor.p(50):.1f}x,"
        f" server CPU per booking {ours.cpu_ms:.2f} vs {floor.cpu_ms:.2f} ms"
    )
    for label, phases, name, goal in (
        ("availability", availability, "availability", " (goal p50 < 10 ms)"),
        ("day sheet", day_sheet, "schedule", ""),
    ):
        phase, healthz = phases[name], phases["healthz"]
        print(
            f"summary: {label} p50 {phase.p(50):.2f} ms, p99 {phase.p(99):.2f} ms{goal};"
            f" /healthz p50 {healthz.p(50):.2f} ms: {label}/healthz ="
            f" {phase.p(50) / healthz.p(50):.1f}x (p50), {phase.p(99) / healthz.p(99):.1f}x (p99)"
        )


def _day_sheet_rows(connection: psycopg.Connection[Any], paths: list[tuple[str, Any]]) -> float:
    days = [params["date"] for _, params in paths]
    row = connection.execute(
        "SELECT count(*) FROM appointments WHERE location_id = %s"
        " AND (starts_at AT TIME ZONE %s)::date = ANY(%s::date[])",
        (data.LOCATION_ID, data.TIME_ZONE, days),
    ).fetchone()
    assert row is not None
    return float(row[0]) / len(days)


def main() -> None:
    knobs = Knobs()
    servers = start_test_servers()
    try:
        url, meta, generated_now = data.ensure_data(servers)
        token = insert_staff(servers)
        with psycopg.connect(servers.libpq_url(data.BENCH_DB), autocommit=True) as connection:
            data.create_floor_table(connection)
            connection.execute(f"DELETE FROM {data.FLOOR_TABLE} WHERE NOT seeded")  # noqa: S608
            plan = plan_bookings(connection, meta, WARMUP_BOOKINGS + knobs.bookings)
            day_sheets = day_sheet_requests()
            day_sheet_rows = _day_sheet_rows(connection, day_sheets)
        env = {
            **os.environ,
            "CLINIC_ENV": "test",
            "CLINIC_SECRET_KEY": SECRET,
            "CLINIC_DATABASE_URL": url,
            "CLINIC_REDIS_URL": servers.redis_url,
            "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_DB_POOL_SIZE": str(knobs.pool_size),
        }
        lifetime = knobs.server_lifetime
        with (
            serving("services.app:create_app", env, lifetime) as app,
            serving("tests.bench.serve:create_floor_app", env, lifetime) as floor,
        ):
            bookings = asyncio.run(measure_bookings(app, floor, token, plan, knobs))
            health: tuple[str, dict[str, str]] = ("/healthz", {})
            availability = asyncio.run(
                measure_reads(
                    app,
                    token,
                    {"healthz": [health], "availability": availability_requests(meta)},
                    knobs.n,
                )
            )
            day_sheet = asyncio.run(
                measure_reads(app, token, {"healthz": [health], "schedule": day_sheets}, knobs.n)
            )
        with psycopg.connect(servers.libpq_url(data.BENCH_DB), autocommit=True) as connection:
            connection.execute(f"DELETE FROM {data.FLOOR_TABLE} WHERE NOT seeded")  # noqa: S608
    finally:
        servers.stop()
    report(servers, meta, generated_now, knobs, bookings, availability, day_sheet, day_sheet_rows)
    failed = {name: phase for name, phase in bookings.items() if phase.non_2xx}
    if failed:
        details = "; ".join(
            f"{name}: {dict(phase.statuses)} first: {phase.failures}"
            for name, phase in failed.items()
        )
        raise SystemExit(f"FAILED: a booking was not answered 201: {details}")
    if bookings["ours"].n < knobs.bookings or bookings["floor"].n < knobs.bookings:
        raise SystemExit(f"FAILED: the time limit ({knobs.seconds:.0f} s a phase) cut it short")


if __name__ == "__main__":
    main()
