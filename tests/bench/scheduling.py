"""Scheduling at 1,000,000 appointments over real HTTP: booking, availability, day sheet.

Run with ``make bench`` (or alone: ``python -m tests.bench.scheduling``). It starts the test
servers (embedded unless ``CLINIC_TEST_*_URL`` are set), finds or generates the data in the
``clinic_bench_schedule`` database (``tests/bench/schedule_data.py``, kept between runs), and
starts uvicorn servers on 127.0.0.1, each on a free port, with the same options and settings
(``tests/bench/serve.py``): the app, and the floor app, whose one endpoint does a single
INSERT into ``bench_floor_bookings`` (the practitioner exclusion constraint of
``appointments``, over the same ~1M held ranges). They all stop by themselves.

1. Booking: concurrent clients (httpx AsyncClients, one keep-alive connection each) send
   ``BENCH_BOOKINGS`` ``POST /api/v1/appointments`` as a front-desk user, each a distinct
   slot of a 20-minute follow-up after the week the availability reads ask for (so they
   never make it busier), free for the practitioner and for the patient (planned from the
   database; practitioners round-robin, each one's slots from its own stretch of weeks, so
   requests in flight never compete for a practitioner, a room or a patient). The floor
   gets the same bodies, count and concurrency. Both are warmed up first, and measured in
   alternating halves. Reported: bookings/s, p50, p99, server CPU per booking and
   ours/floor, against issue #16's targets at ``BENCH_CLIENTS``: ours/floor >= 0.5,
   p99 < 250 ms, server CPU per booking < 6 ms. Any answer but 201 fails the run.
   Three measurements, each with bookings of its own and its floor in the same run:
   ``BENCH_CLIENTS`` clients and ``BENCH_FEW_CLIENTS`` clients on one API process, then
   ``BENCH_CLIENTS`` clients on ``BENCH_WORKERS`` processes (uvicorn ``workers``, as
   ``clinic api --workers N``; the floor then runs on as many). Before each timed part the
   clients connect anew and evenly over the processes (a connection is kept by the process
   that accepted it; the report shows how many each had).
2. Availability: ``GET /api/v1/availability`` for one practitioner (a different one each
   request) and one week two weeks ahead, for a follow-up (it needs an adjustment room),
   ``BENCH_N`` sequential requests, p50/p99, against ``/healthz`` on the same server in the
   same run (interleaved rounds, like ``http.py``).
3. Day sheet: ``GET /api/v1/schedule`` for the location on one of the last five (full)
   weekdays, the same way.
4. Availability by size: the same requests at each of ``BENCH_SIZES`` appointments, each
   size in a database of its own (``clinic_bench_schedule_<size>``, generated the same way
   and kept between runs; a small size is all future: it must fill the next 3 weeks, which
   takes about 4,000 appointments, and is made again once less is left), on a server of
   its own, next to the 1M row of 2.: a table (the week's appointments, p50, p99, server
   CPU, that server's /healthz p50, their ratio) showing whether the cost grows with
   history (runs before bookings kept out of that week may have made the 1M one busier).

Every row also shows the server's CPU per request ("srv CPU ms", from psutil: the uvicorn
process and all its children, so every worker): on a small machine the clients, the servers
and PostgreSQL share the cores, and that figure is the cost that does not depend on how
they were shared.

The bookings stay in the database (about 3 x ``BENCH_BOOKINGS`` a run, out of the ~95,000
free future slots of freshly generated data); the floor's rows are deleted. Knobs
(defaults): ``BENCH_BOOKINGS`` (2000, a booking measurement), ``BENCH_CLIENTS`` (32),
``BENCH_FEW_CLIENTS`` (8; 0 leaves that row out), ``BENCH_WORKERS`` (2; 1 leaves the
multi-process row out), ``BENCH_SIZES`` ("10000,100000"; empty leaves the table out),
``BENCH_N`` (200), ``BENCH_POOL_SIZE`` (10, the pool of each API process, as
``CLINIC_DB_POOL_SIZE``), ``BENCH_SECONDS`` (120, time limit of each phase: a warm-up, a
timed half, a read measurement; one cut short fails the run), ``BENCH_REGENERATE``,
``BENCH_APPOINTMENTS``, ``BENCH_PATIENTS`` (``schedule_data``).
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
from services.core.health import MULTIPROCESS_DIR
from services.core.tokens import hash_token, new_token
from tests.bench import SECRET, env_int
from tests.bench import schedule_data as data
from tests.bench.serve import FLOOR_PATH
from tests.factories import password_hash
from tests.servers import ROOT, Servers, start_test_servers

BOOK_PATH = "/api/v1/appointments"
APP_FACTORY = "services.app:create_app"
FLOOR_FACTORY = "tests.bench.serve:create_floor_app"
WARMUP_BOOKINGS = 64
WARMUP = 20
ROUNDS = 5
STAFF_EMAIL = "frontdesk@bench.example"
BOOKING_PHASES = 4  # a booking measurement's time limits: 2 warm-ups (1 each), 4 halves (1/2)
READ_WEEK_AHEAD = timedelta(weeks=3)  # the availability week ends at most 21 days from today


def _sizes() -> tuple[int, ...]:
    value = os.environ.get("BENCH_SIZES", "10000,100000")
    return tuple(sorted({int(size) for size in value.split(",") if size.strip()}))


@dataclass(frozen=True)
class Knobs:
    bookings: int = field(default_factory=lambda: env_int("BENCH_BOOKINGS", 2000))
    clients: int = field(default_factory=lambda: env_int("BENCH_CLIENTS", 32))
    few_clients: int = field(default_factory=lambda: env_int("BENCH_FEW_CLIENTS", 8))
    workers: int = field(default_factory=lambda: env_int("BENCH_WORKERS", 2))
    sizes: tuple[int, ...] = field(default_factory=_sizes)
    n: int = field(default_factory=lambda: env_int("BENCH_N", 200))
    pool_size: int = field(default_factory=lambda: env_int("BENCH_POOL_SIZE", 10))
    seconds: float = field(default_factory=lambda: float(env_int("BENCH_SECONDS", 120)))

    @property
    def booking_runs(self) -> list[tuple[int, int]]:
        """``(processes, clients)`` of each booking measurement, in the order they run."""
        runs = [(1, self.clients)]
        if self.few_clients > 0:
            runs.append((1, self.few_clients))
        if self.workers > 1:
            runs.append((self.workers, self.clients))
        return runs

    def lifetime(self, phases: float) -> float:
        """A server's lifetime: long enough for ``phases`` time limits and its start-up."""
        return phases * self.seconds + 120


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
    """``count`` bookings in free grid slots from after the week the availability reads ask
    for (``read_week``; so no run makes that week busier than generated: the sizes compared
    differ in history only) to the generated future's end.

    A slot is free when nothing holding time touches it for the practitioner, and nothing
    for the pool patient the slot is given to (earlier runs' bookings included).
    """
    first_day = max(datetime.now(data.ZONE).date() + timedelta(days=2), read_week()[1].date())
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


def insert_staff(servers: Servers, database: str = data.BENCH_DB) -> str:
    """A front-desk user (kept between runs) and a new session; answers the bearer token."""
    token = new_token()
    now = clock.utcnow()
    with psycopg.connect(servers.libpq_url(database)) as connection:
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


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _used(process: psutil.Process) -> float:
    """CPU seconds of one process (all its threads) and of its children it has reaped."""
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True)
class Server:
    base: str
    process: psutil.Process  # the uvicorn process (with several workers, their supervisor)
    workers: int = 1

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def cpu(self) -> float:
        """CPU seconds the server has used so far: the uvicorn process and every process it
        started (its workers, with ``workers`` > 1), all their threads."""
        return _used(self.process) + sum(_used(child) for child in _descendants(self.process))

    def _listening(self) -> dict[psutil.Process, list[Any]]:
        """The processes that answer requests (uvicorn's workers, or the one process; not
        the supervisor), each with its TCP connections on the server's port."""
        found: dict[psutil.Process, list[Any]] = {}
        for candidates in (_descendants(self.process), [self.process]):
            for process in candidates:
                try:
                    mine = [c for c in process.net_connections("tcp") if c.laddr.port == self.port]
                except psutil.NoSuchProcess:
                    continue
                if any(c.status == psutil.CONN_LISTEN for c in mine):
                    found[process] = mine
            if found:
                return found
        return found

    def connections(self) -> list[int]:
        """Open client connections of each worker process. With several, the kernel gives a
        new connection to whichever worker accepts first (one that wakes first may take
        every connection waiting), and a keep-alive connection stays with that process."""
        return [
            sum(c.status == psutil.CONN_ESTABLISHED for c in mine)
            for mine in self._listening().values()
        ]

    def worker_of(self, client_port: int) -> int:
        """The pid of the worker process holding the connection from ``client_port``."""
        for process, mine in self._listening().items():
            if any(c.raddr and c.raddr.port == client_port for c in mine):
                return process.pid
        raise RuntimeError(f"no worker holds the connection from port {client_port}")


@contextmanager
def serving(
    factory: str, env: dict[str, str], lifetime: float, workers: int = 1
) -> Iterator[Server]:
    """A uvicorn process running ``factory`` (in ``workers`` processes), once it is ready.

    Ready is: /healthz answers and, with several workers, they are all started and idle
    (/healthz answers as soon as one of them has started; the others start at the same time,
    and a worker starting up uses a CPU, one serving nothing does not). On the way out the
    uvicorn process is stopped and any worker of it left running is killed.
    """
    port = _free_port()
    command = [sys.executable, "-m", "tests.bench.serve", factory, str(port), str(lifetime)]
    process = subprocess.Popen([*command, str(workers)], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    server = Server(base, psutil.Process(process.pid), workers)
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
        if workers > 1:
            _settle(server, factory, deadline)
        yield server
    finally:
        children = _descendants(server.process)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _, left = psutil.wait_procs(children, timeout=5)
        for child in left:
            child.kill()


def _settle(server: Server, factory: str, deadline: float) -> None:
    """Wait until the uvicorn process has its workers (children with the listening socket)
    and none of its children is using the CPU."""
    while True:
        children = _descendants(server.process)
        before = [_used(child) for child in children]
        time.sleep(0.5)
        used = [_used(child) - cpu for child, cpu in zip(children, before, strict=True)]
        if len(server.connections()) >= server.workers and max(used, default=0.0) < 0.02:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{factory}: {server.workers} workers were not idle within 60 s")


# Measuring


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0  # seconds of the server's CPU (all its processes)
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


@dataclass
class BookingRun:
    """One booking measurement: ours and the floor, each on ``processes`` API processes."""

    processes: int
    clients: int
    phases: dict[str, Phase]  # "floor", "ours"
    connections: dict[str, list[int]]  # keep-alive connections per API process, after warm-up

    @property
    def label(self) -> str:
        plural = "es" if self.processes > 1 else ""
        return f"{self.processes} process{plural}, {self.clients} clients"


async def measure_bookings(
    app: Server, floor: Server, token: str, plan: list[Booking], clients: int, seconds: float
) -> BookingRun:
    """Warm both up, then alternate halves: floor, ours, floor, ours.

    ``plan`` is this measurement's own bookings (the first ``WARMUP_BOOKINGS`` warm up).
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
    connections: dict[str, list[int]] = {}
    for name, (server, path, extra) in targets.items():
        warm = Phase()
        pool = await _connect(server, clients)
        try:
            await _book_all(pool, path, warmup, extra, time.monotonic() + seconds, warm)
        finally:
            await _close(pool)
        if warm.non_2xx:
            raise RuntimeError(f"{name}: warm-up booking failed: {warm.failures[0]}")
    for part in (measured[:half], measured[half:]):  # alternating, so drift hits both
        for name, (server, path, extra) in targets.items():
            pool = await _connect(server, clients)
            try:
                deadline = time.monotonic() + seconds / 2
                cpu = server.cpu()
                await _book_all(pool, path, part, extra, deadline, phases[name])
                phases[name].server_cpu += server.cpu() - cpu
                connections[name] = server.connections()  # still as _connect spread them
            finally:
                await _close(pool)
    return BookingRun(app.workers, clients, phases, connections)


async def _connect(server: Server, count: int) -> list[httpx.AsyncClient]:
    """``count`` clients, each with its one keep-alive connection open (a /healthz), spread
    evenly over the server's worker processes: a connection that lands on a worker holding
    its share already is closed and made again (the kernel picks; 40 tries at most).

    Connected anew before each timed part: uvicorn closes a keep-alive connection idle for
    5 s (the floor's, while ours is measured), and connections made all at once by busy
    clients could all go to one worker.
    """
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    share = math.ceil(count / server.workers)
    held: Counter[int] = Counter()
    clients: list[httpx.AsyncClient] = []
    try:
        for _ in range(count):
            for attempt in range(40):
                client = httpx.AsyncClient(base_url=server.base, limits=one, timeout=30)
                response = await client.get("/healthz")
                response.raise_for_status()
                if server.workers == 1:
                    break
                _, port = response.extensions["network_stream"].get_extra_info("client_addr")
                worker = server.worker_of(port)
                if held[worker] < share or attempt == 39:
                    held[worker] += 1
                    break
                await client.aclose()
            clients.append(client)
    except BaseException:
        await _close(clients)
        raise
    return clients


async def _close(clients: list[httpx.AsyncClient]) -> None:
    for client in clients:
        await client.aclose()


async def measure_reads(
    server: Server,
    token: str,
    requests: dict[str, list[tuple[str, dict[str, str]]]],
    n: int,
    seconds: float,
) -> dict[str, Phase]:
    """Sequential GETs, each name's list cycled, in interleaved rounds; /healthz is the floor.

    No request starts after ``seconds`` (warm-up included): a phase cut short has fewer than
    ``n`` requests a name (``expected_reads``).
    """
    headers = {"Authorization": f"Bearer {token}"}
    phases = {name: Phase() for name in requests}
    deadline = time.monotonic() + seconds
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
                    if time.monotonic() > deadline:
                        break
                    phases[name].latencies.append(await one(name, k))
                phases[name].seconds += time.perf_counter() - start
                phases[name].server_cpu += server.cpu() - cpu
    return phases


def expected_reads(n: int) -> int:
    """The requests a name ``measure_reads`` makes when the time limit does not cut it."""
    return max(1, n // ROUNDS) * ROUNDS


def read_week() -> tuple[datetime, datetime]:
    """The week the availability reads ask for: Monday to Monday (local), two weeks ahead."""
    today = datetime.now(data.ZONE).date()
    monday = today + timedelta(days=14 - today.weekday())
    start = datetime.combine(monday, clock_time(0), tzinfo=data.ZONE)
    return start, datetime.combine(monday + timedelta(days=7), clock_time(0), tzinfo=data.ZONE)


def week_appointments(connection: psycopg.Connection[Any]) -> int:
    """The appointments holding time in ``read_week`` (all practitioners)."""
    start, end = read_week()
    row = connection.execute(
        "SELECT count(*) FROM appointments"  # noqa: S608 - a constant condition
        f" WHERE held_from < %s AND held_until > %s AND {data.HOLDS_TIME}",
        (end, start),
    ).fetchone()
    assert row is not None
    return int(row[0])


def availability_requests(meta: data.Meta) -> list[tuple[str, dict[str, str]]]:
    """The ``read_week``, one practitioner per request."""
    start, end = read_week()
    if end.date() > meta.filled_until:  # ensure_data's min_filled sees to it
        raise RuntimeError(f"the week from {start.date()} is not all in the generated data")
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
SIZE_HEADER = (
    f"{'appointments':>14}{'in week':>9}{'p50 ms':>9}{'p99 ms':>9}{'srv CPU ms':>12}"
    f"{'/healthz p50':>14}{'ratio':>8}"
)
# Issue #16's targets for booking at BENCH_CLIENTS (32) concurrent clients.
GOAL_RATIO = 0.5
GOAL_P99_MS = 250.0
GOAL_CPU_MS = 6.0


def _goal(met: bool) -> str:
    return "met" if met else "MISSED"


def _booking_summary(run: BookingRun, goals: bool) -> str:
    """One booking measurement's line; with ``goals``, issue #16's targets and met/MISSED."""
    floor, ours = run.phases["floor"], run.phases["ours"]
    ratio = ours.rate / floor.rate if floor.rate else float("nan")
    p99, cpu = ours.p(99), ours.cpu_ms
    ratio_goal = f" (goal >= {GOAL_RATIO}: {_goal(ratio >= GOAL_RATIO)})" if goals else ""
    p99_goal = f" (goal < {GOAL_P99_MS:.0f} ms: {_goal(p99 < GOAL_P99_MS)})" if goals else ""
    cpu_goal = f" (goal < {GOAL_CPU_MS:.0f} ms: {_goal(cpu < GOAL_CPU_MS)})" if goals else ""
    return (
        f"summary: booking, {run.label}: {ours.rate:.1f}/s vs floor {floor.rate:.1f}/s:"
        f" throughput ours/floor = {ratio:.2f}{ratio_goal};"
        f" p50 {ours.p(50):.1f} ms, p99 {p99:.1f} ms{p99_goal}"
        f" vs floor p50 {floor.p(50):.1f} ms, p99 {floor.p(99):.1f} ms:"
        f" p50 ours/floor = {ours.p(50) / floor.p(50):.1f}x;"
        f" server CPU per booking {cpu:.2f} ms{cpu_goal} vs floor {floor.cpu_ms:.2f} ms"
    )


def _size_row(appointments: int, week: int, phases: dict[str, Phase]) -> str:
    phase, healthz = phases["availability"], phases["healthz"]
    return (
        f"{appointments:>14,}{week:>9,}{phase.p(50):>9.2f}{phase.p(99):>9.2f}"
        f"{phase.cpu_ms:>12.2f}{healthz.p(50):>14.2f}{phase.p(50) / healthz.p(50):>7.1f}x"
    )


@dataclass(frozen=True)
class Size:
    """Availability at one of the other sizes (``BENCH_SIZES``)."""

    meta: data.Meta
    generated_now: bool
    week: int  # appointments holding time in the week read (``week_appointments``)
    phases: dict[str, Phase]  # "healthz", "availability"


@dataclass(frozen=True)
class Results:
    bookings: list[BookingRun]
    availability: dict[str, Phase]
    week: int  # appointments holding time in the week the availability reads ask for
    day_sheet: dict[str, Phase]
    day_sheet_rows: float
    sizes: dict[int, Size]


def report(
    servers: Servers, meta: data.Meta, generated_now: bool, knobs: Knobs, results: Results
) -> None:
    kind = "embedded" if servers.embedded else "configured (CLINIC_TEST_*_URL)"
    print(f"python {platform.python_version()} | nproc {os.cpu_count()} | servers: {kind}")
    for line in data.describe(meta, generated_now):
        print(line)
    for size, at in results.sizes.items():
        how = (
            "generated now" if at.generated_now else f"reused, generated on {at.meta.generated_on}"
        )
        print(
            f"data for availability at {size:,} ({data.sized_database(size)}, {how}):"
            f" {at.meta.oldest_day} to {at.meta.filled_until},"
            f" load {at.meta.seconds['total']:.1f} s"
        )
    print(
        f"booking: uvicorn on 127.0.0.1, pool {knobs.pool_size} a process, the floor on as many"
        " processes as ours:"
    )
    print(HEADER)
    for run in results.bookings:
        spread = ""
        if run.processes > 1:
            shares = {name: "/".join(map(str, c)) for name, c in run.connections.items()}
            spread = f" (client connections a process: ours {shares['ours']},"
            spread += f" floor {shares['floor']})"
        print(f"{run.label}{spread}:")
        print(_row("  floor: one INSERT + EXCLUDE", run.phases["floor"]))
        print(_row(f"  POST {BOOK_PATH}", run.phases["ours"]))
    availability, day_sheet = results.availability, results.day_sheet
    print("reads: sequential, one client, same server as the bookings (1 process):")
    print(HEADER)
    print(_row("floor: GET /healthz", availability["healthz"]))
    print(_row("GET /api/v1/availability (1 week)", availability["availability"]))
    print(_row("floor: GET /healthz", day_sheet["healthz"]))
    print(
        _row(f"GET /api/v1/schedule (~{results.day_sheet_rows:.0f} appts)", day_sheet["schedule"])
    )
    by_size = {size: (at.week, at.phases) for size, at in results.sizes.items()}
    by_size[meta.appointments] = (results.week, availability)
    if len(by_size) > 1:
        print(
            "availability by size: one practitioner-week, a follow-up (needs an adjustment"
            f" room), sequential, each size its own database and server ({meta.appointments:,}:"
            " the reads' above); in week = appointments holding time in the week read;"
            " ratio = p50 / that server's /healthz p50:"
        )
        print(SIZE_HEADER)
        for size in sorted(by_size):
            print(_size_row(size, *by_size[size]))
    for run in results.bookings:
        print(_booking_summary(run, goals=run.clients == knobs.clients))
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
    if len(by_size) > 1:
        sizes = sorted(by_size)
        phases_by = [by_size[size][1]["availability"] for size in sizes]
        first, last = phases_by[0], phases_by[-1]
        print(
            f"summary: availability by size ({' / '.join(f'{size:,}' for size in sizes)}"
            f" appointments): p50 {' / '.join(f'{p.p(50):.2f}' for p in phases_by)} ms,"
            f" srv CPU {' / '.join(f'{p.cpu_ms:.2f}' for p in phases_by)} ms:"
            f" largest/smallest = {last.p(50) / first.p(50):.2f}x (p50),"
            f" {last.cpu_ms / first.cpu_ms:.2f}x (srv CPU)"
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


def _check(knobs: Knobs, results: Results) -> None:
    """Fail the run when a booking was refused or a time limit cut a phase short."""
    failed = [
        f"{run.label}, {name}: {dict(phase.statuses)} first: {phase.failures}"
        for run in results.bookings
        for name, phase in run.phases.items()
        if phase.non_2xx
    ]
    if failed:
        raise SystemExit(f"FAILED: a booking was not answered 201: {'; '.join(failed)}")
    short = [
        f"booking, {run.label}, {name}"
        for run in results.bookings
        for name, phase in run.phases.items()
        if phase.n < knobs.bookings
    ]
    reads: dict[str, list[dict[str, Phase]]] = {"reads": [results.availability, results.day_sheet]}
    reads |= {f"availability at {size:,}": [at.phases] for size, at in results.sizes.items()}
    short += [
        f"{where}: {name}"
        for where, groups in reads.items()
        for phases in groups
        for name, phase in phases.items()
        if phase.n < expected_reads(knobs.n)
    ]
    if short:
        cut = ", ".join(short)
        raise SystemExit(
            f"FAILED: the time limit ({knobs.seconds:.0f} s a phase) cut it short: {cut}"
        )


HEALTH: tuple[str, dict[str, str]] = ("/healthz", {})


@dataclass(frozen=True)
class Setup:
    """What every measurement needs: the knobs, the app servers' environment, the token."""

    knobs: Knobs
    env: dict[str, str]
    token: str


def _on_one_process(
    setup: Setup,
    meta: data.Meta,
    plans: list[tuple[int, list[Booking]]],
    day_sheets: list[tuple[str, dict[str, str]]],
) -> tuple[list[BookingRun], dict[str, Phase], dict[str, Phase]]:
    """The one-process booking measurements (``(clients, plan)`` each), then the reads."""
    knobs, env, token = setup.knobs, setup.env, setup.token
    lifetime = knobs.lifetime(BOOKING_PHASES * len(plans) + 2)
    with (
        serving(APP_FACTORY, env, lifetime) as app,
        serving(FLOOR_FACTORY, env, lifetime) as floor,
    ):
        bookings = [
            asyncio.run(measure_bookings(app, floor, token, plan, clients, knobs.seconds))
            for clients, plan in plans
        ]
        weeks = {"healthz": [HEALTH], "availability": availability_requests(meta)}
        availability = asyncio.run(measure_reads(app, token, weeks, knobs.n, knobs.seconds))
        sheets = {"healthz": [HEALTH], "schedule": day_sheets}
        day_sheet = asyncio.run(measure_reads(app, token, sheets, knobs.n, knobs.seconds))
    return bookings, availability, day_sheet


def _on_processes(setup: Setup, processes: int, clients: int, plan: list[Booking]) -> BookingRun:
    """A booking measurement with ours and the floor each on ``processes`` processes."""
    lifetime = setup.knobs.lifetime(BOOKING_PHASES)
    with (
        serving(APP_FACTORY, setup.env, lifetime, processes) as app,
        serving(FLOOR_FACTORY, setup.env, lifetime, processes) as floor,
    ):
        return asyncio.run(
            measure_bookings(app, floor, setup.token, plan, clients, setup.knobs.seconds)
        )


def _availability_at(setup: Setup, url: str, meta: data.Meta, token: str) -> dict[str, Phase]:
    """Availability (and /healthz) on a server of its own over another size's database."""
    knobs = setup.knobs
    with serving(APP_FACTORY, {**setup.env, "CLINIC_DATABASE_URL": url}, knobs.lifetime(1)) as app:
        weeks = {"healthz": [HEALTH], "availability": availability_requests(meta)}
        return asyncio.run(measure_reads(app, token, weeks, knobs.n, knobs.seconds))


def main() -> None:
    knobs = Knobs()
    servers = start_test_servers()
    try:
        url, meta, generated_now = data.ensure_data(servers, min_filled=READ_WEEK_AHEAD)
        sized = {
            size: data.ensure_data(servers, data.sized_database(size), size, READ_WEEK_AHEAD)
            for size in knobs.sizes
            if size != meta.appointments
        }
        token = insert_staff(servers)
        sized_tokens = {size: insert_staff(servers, data.sized_database(size)) for size in sized}
        runs = knobs.booking_runs
        each = WARMUP_BOOKINGS + knobs.bookings
        with psycopg.connect(servers.libpq_url(data.BENCH_DB), autocommit=True) as connection:
            data.create_floor_table(connection)
            connection.execute(f"DELETE FROM {data.FLOOR_TABLE} WHERE NOT seeded")  # noqa: S608
            plan = plan_bookings(connection, meta, each * len(runs))  # each run its own slots
            day_sheets = day_sheet_requests()
            day_sheet_rows = _day_sheet_rows(connection, day_sheets)
            week = week_appointments(connection)
        plans = [plan[k * each : (k + 1) * each] for k in range(len(runs))]
        env = {
            **os.environ,
            "CLINIC_ENV": "test",
            "CLINIC_SECRET_KEY": SECRET,
            "CLINIC_DATABASE_URL": url,
            "CLINIC_REDIS_URL": servers.redis_url,
            "CLINIC_LOG_LEVEL": "WARNING",
            "CLINIC_DB_POOL_SIZE": str(knobs.pool_size),
        }
        env.pop(MULTIPROCESS_DIR, None)  # serve.py gives each multi-process server its own
        setup = Setup(knobs, env, token)
        one = [(clients, plans[k]) for k, (processes, clients) in enumerate(runs) if processes == 1]
        bookings, availability, day_sheet = _on_one_process(setup, meta, one, day_sheets)
        bookings += [
            _on_processes(setup, processes, clients, plans[k])
            for k, (processes, clients) in enumerate(runs)
            if processes > 1
        ]
        sizes: dict[int, Size] = {}
        for size, (size_url, size_meta, size_now) in sized.items():
            with psycopg.connect(servers.libpq_url(data.sized_database(size))) as connection:
                size_week = week_appointments(connection)
            at = _availability_at(setup, size_url, size_meta, sized_tokens[size])
            sizes[size] = Size(size_meta, size_now, size_week, at)
        with psycopg.connect(servers.libpq_url(data.BENCH_DB), autocommit=True) as connection:
            connection.execute(f"DELETE FROM {data.FLOOR_TABLE} WHERE NOT seeded")  # noqa: S608
    finally:
        servers.stop()
    results = Results(bookings, availability, week, day_sheet, day_sheet_rows, sizes)
    report(servers, meta, generated_now, knobs, results)
    _check(knobs, results)


if __name__ == "__main__":
    main()
