"""A sign-in flood over real HTTP, and what it does to a signed-in user's ``GET /api/v1/me``.

Run with ``make bench`` (or alone: ``python -m tests.bench.login``). It starts the test
servers (embedded unless ``CLINIC_TEST_*_URL`` are set), migrates a ``clinic_bench_login``
database, seeds ``USERS`` staff accounts and one signed-in user, and starts the app in a
uvicorn process on 127.0.0.1 (``tests/bench/serve.py`` via ``scheduling.serving``: the
options ``clinic api`` uses, pool ``CLINIC_DB_POOL_SIZE`` = 10, the default
``CLINIC_LOGIN_HASH_CONCURRENCY``). It stops by itself.

1. Quiet: the signed-in user polls ``/me`` ``BENCH_N`` times (sequential, one client).
2. Flood: ``BENCH_LOGINS`` sign-ins (default 300) from ``BENCH_LOGIN_CLIENTS`` clients at once
   (default 100, one keep-alive connection each), while the same user keeps polling ``/me``
   until the flood is over. A third are right passwords (each account twice), a third wrong
   passwords of real accounts (twice each: under the lockout), a third unknown emails. Every
   request comes from 127.0.0.1, so the per-address throttle is raised for the run
   (``CLINIC_LOGIN_ADDRESS_MAX_FAILURES``): every sign-in reaches argon2, as in a flood from
   many addresses, the worst case for the server.

Reported: sign-ins by status (any 5xx fails the run), their p50/p99, and ``/me`` p50/p99
quiet and during the flood, with the ratio. The flood stops taking new sign-ins after
``BENCH_SECONDS`` (default 300).
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import psycopg

from services.core import clock
from services.core.tokens import hash_token, new_token
from tests.bench import SECRET, env_int
from tests.bench.scheduling import Phase, serving
from tests.factories import PASSWORD, password_hash
from tests.servers import Servers, migrate, start_test_servers

BENCH_DB = "clinic_bench_login"
USERS = 50
WARMUP = 20
ME = "/api/v1/me"
TOKEN = "/api/v1/auth/token"


@dataclass(frozen=True)
class Knobs:
    logins: int = field(default_factory=lambda: env_int("BENCH_LOGINS", 300))
    clients: int = field(default_factory=lambda: env_int("BENCH_LOGIN_CLIENTS", 100))
    n: int = field(default_factory=lambda: env_int("BENCH_N", 200))
    seconds: float = field(default_factory=lambda: float(env_int("BENCH_SECONDS", 300)))


def seed(servers: Servers) -> str:
    """``USERS`` front-desk accounts and one signed-in chiropractor; answers their token."""
    token = new_token()
    now = clock.utcnow()
    with psycopg.connect(servers.libpq_url(BENCH_DB)) as connection:
        for k in range(USERS):
            connection.execute(
                "INSERT INTO users (email, full_name, password_hash, roles)"
                " VALUES (%s, %s, %s, %s)",
                (f"staff{k}@bench.example", f"Bench Staff {k}", password_hash(), ["front_desk"]),
            )
        row = connection.execute(
            "INSERT INTO users (email, full_name, password_hash, roles)"
            " VALUES ('reader@bench.example', 'Bench Reader', %s, %s) RETURNING id",
            (password_hash(), ["chiropractor"]),
        ).fetchone()
        assert row is not None
        connection.execute(
            "INSERT INTO auth_sessions (user_id, token_hash, created_at, last_seen_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (row[0], hash_token(token, SECRET), now, now, now + timedelta(hours=12)),
        )
    return token  # the `with` block committed


def sign_ins(count: int) -> list[dict[str, str]]:
    """Right passwords, wrong passwords of real accounts, unknown emails, interleaved."""
    forms = []
    for k in range(count):
        user = f"staff{(k // 3) % USERS}@bench.example"
        forms.append(
            [
                {"username": user, "password": PASSWORD},
                {"username": user, "password": f"wrong guess {k}"},
                {"username": f"nobody{k}@bench.example", "password": f"guess {k}"},
            ][k % 3]
        )
    return forms


async def poll_me(client: httpx.AsyncClient, token: str, phase: Phase, done: asyncio.Event) -> None:
    """Sequential ``GET /me`` until ``done`` is set."""
    headers = {"Authorization": f"Bearer {token}"}
    while not done.is_set():
        start = time.perf_counter()
        try:
            status = (await client.get(ME, headers=headers)).status_code
        except httpx.HTTPError as error:
            status = 0  # a dropped connection counts as a failure
            if len(phase.failures) < 5:
                took = time.perf_counter() - start
                phase.failures.append(f"{error!r} after {took:.2f} s, request {phase.n + 1}")
        phase.latencies.append(time.perf_counter() - start)
        phase.statuses[status] += 1


async def flood(
    clients: list[httpx.AsyncClient],
    forms: list[dict[str, str]],
    knobs: Knobs,
    phase: Phase,
    done: asyncio.Event,
) -> None:
    pending = iter(forms)
    deadline = time.monotonic() + knobs.seconds

    async def one_client(client: httpx.AsyncClient) -> None:
        for form in pending:  # shared: each form is taken once
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            try:
                status = (await client.post(TOKEN, data=form)).status_code
            except httpx.HTTPError as error:
                status = 0  # a dropped connection counts as a failure
                if len(phase.failures) < 5:
                    phase.failures.append(repr(error))
            phase.latencies.append(time.perf_counter() - start)
            phase.statuses[status] += 1

    start = time.perf_counter()
    try:
        await asyncio.gather(*(one_client(client) for client in clients))
    finally:
        phase.seconds = time.perf_counter() - start
        done.set()


async def measure(base: str, token: str, knobs: Knobs) -> dict[str, Phase]:
    phases = {"quiet": Phase(), "flood": Phase(), "logins": Phase()}
    # Made before anything is measured: building 100 clients blocks this process's event
    # loop for seconds, long enough for the server to close the reader's idle connection.
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, limits=one, timeout=knobs.seconds)
        for _ in range(knobs.clients)
    ]
    try:
        return await _measure(base, token, knobs, clients, phases)
    finally:
        for client in clients:
            await client.aclose()


async def _measure(
    base: str,
    token: str,
    knobs: Knobs,
    clients: list[httpx.AsyncClient],
    phases: dict[str, Phase],
) -> dict[str, Phase]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as reader:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(WARMUP):
            await reader.get(ME, headers=headers)
        await reader.post(TOKEN, data={"username": "staff0@bench.example", "password": PASSWORD})
        for _ in range(knobs.n):
            start = time.perf_counter()
            response = await reader.get(ME, headers=headers)
            phases["quiet"].latencies.append(time.perf_counter() - start)
            phases["quiet"].statuses[response.status_code] += 1
        done = asyncio.Event()
        await asyncio.gather(
            poll_me(reader, token, phases["flood"], done),
            flood(clients, sign_ins(knobs.logins), knobs, phases["logins"], done),
        )
    return phases


def report(servers: Servers, knobs: Knobs, phases: dict[str, Phase]) -> None:
    kind = "embedded" if servers.embedded else "configured (CLINIC_TEST_*_URL)"
    print(f"python {platform.python_version()} | nproc {os.cpu_count()} | servers: {kind}")
    logins, quiet, during = phases["logins"], phases["quiet"], phases["flood"]
    statuses = dict(sorted(logins.statuses.items()))
    print(
        f"sign-in flood: {logins.n} of {knobs.logins} at {knobs.clients} at once, uvicorn"
        f" (1 process), pool 10, hash concurrency 4: {logins.seconds:.1f} s, statuses {statuses},"
        f" p50 {logins.p(50):.0f} ms, p99 {logins.p(99):.0f} ms"
    )
    print(
        f"GET {ME}: quiet n={quiet.n} p50 {quiet.p(50):.2f} ms p99 {quiet.p(99):.2f} ms |"
        f" during the flood n={during.n} p50 {during.p(50):.2f} ms p99 {during.p(99):.2f} ms"
        f" | flood/quiet = {during.p(50) / quiet.p(50):.1f}x (p50),"
        f" {during.p(99) / quiet.p(99):.1f}x (p99)"
    )


def main() -> None:
    knobs = Knobs()
    servers = start_test_servers()
    try:
        url = servers.recreate_database(BENCH_DB)
        try:
            migrate(url)
            token = seed(servers)
            env = {
                **os.environ,
                "CLINIC_ENV": "test",
                "CLINIC_SECRET_KEY": SECRET,
                "CLINIC_DATABASE_URL": url,
                "CLINIC_REDIS_URL": servers.redis_url,
                "CLINIC_LOG_LEVEL": "WARNING",
                "CLINIC_DB_POOL_SIZE": "10",
                "CLINIC_LOGIN_HASH_CONCURRENCY": "4",
                "CLINIC_LOGIN_ADDRESS_MAX_FAILURES": str(10 * knobs.logins),
            }
            with serving("services.app:create_app", env, 3 * knobs.seconds + 120) as app:
                phases = asyncio.run(measure(app.base, token, knobs))
        finally:
            servers.drop_database(BENCH_DB)
    finally:
        servers.stop()
    report(servers, knobs, phases)
    errors = Counter(
        {s: c for p in phases.values() for s, c in p.statuses.items() if s >= 500 or s == 0}
    )
    me_failures = sum(c for p in (phases["quiet"], phases["flood"]) for s, c in p.statuses.items())
    me_failures -= phases["quiet"].statuses[200] + phases["flood"].statuses[200]
    if errors or me_failures:
        failures = {name: p.failures for name, p in phases.items() if p.failures}
        raise SystemExit(
            f"FAILED: 5xx or dropped: {dict(errors)}; /me not 200: {me_failures}; {failures}"
        )
    if phases["logins"].n < knobs.logins:
        raise SystemExit(f"FAILED: the time limit ({knobs.seconds:.0f} s) cut the flood short")


if __name__ == "__main__":
    main()
