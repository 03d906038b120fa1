"""Request latency in-process: the floor (/healthz) against authenticated and DB-backed routes.

Run with ``make bench`` (``BENCH_N`` sets the measured requests per endpoint, default 500).
It starts the test servers (embedded unless ``CLINIC_TEST_*_URL`` are set), migrates a
``clinic_bench`` database, drives the app through ``httpx.ASGITransport`` and prints a table.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from datetime import timedelta

import httpx
import psycopg

from services.app import create_app
from services.core import clock
from services.core.database import Database
from services.core.settings import Environment, Settings
from services.core.tokens import hash_token, new_token
from tests.bench import SECRET
from tests.factories import password_hash
from tests.servers import Servers, migrate, start_test_servers

BENCH_DB = "clinic_bench"
WARMUP = 50
ROUNDS = 5
ENDPOINTS = ("/healthz", "/api/v1/me", "/readyz")


def insert_staff(servers: Servers, settings: Settings) -> str:
    """One chiropractor and a live session for them; answers the bearer token."""
    token = new_token()
    now = clock.utcnow()
    with psycopg.connect(servers.libpq_url(BENCH_DB)) as connection:
        row = connection.execute(
            "INSERT INTO users (email, full_name, password_hash, roles)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            ("bench@clinic.example", "Bench Chiropractor", password_hash(), ["chiropractor"]),
        ).fetchone()
        assert row is not None
        connection.execute(
            "INSERT INTO auth_sessions (user_id, token_hash, created_at, last_seen_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                row[0],
                hash_token(token, settings.secret_key),
                now,
                now,
                now + timedelta(hours=settings.session_max_hours),
            ),
        )
    return token  # the `with` block committed


async def timed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    response = await client.get(path, headers=headers)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
    return elapsed


async def measure(settings: Settings, token: str, n: int) -> dict[str, list[float]]:
    assert settings.database_url
    database = Database.from_url(settings.database_url, pool_size=5)
    app = create_app(settings, database=database)
    headers = {"Authorization": f"Bearer {token}"}
    samples: dict[str, list[float]] = {path: [] for path in ENDPOINTS}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for path in ENDPOINTS:
                for _ in range(WARMUP):
                    await timed(client, path, headers)
            per_round = max(1, n // ROUNDS)
            for _ in range(ROUNDS):  # interleaved, so drift affects every endpoint alike
                for path in ENDPOINTS:
                    for _ in range(per_round):
                        samples[path].append(await timed(client, path, headers))
    finally:
        await database.dispose()  # ASGITransport does not run the lifespan
    return samples


def report(samples: dict[str, list[float]], servers: Servers) -> None:
    kind = "embedded" if servers.embedded else "configured (CLINIC_TEST_*_URL)"
    print(f"python {platform.python_version()} | nproc {os.cpu_count()} | servers: {kind}")
    floor = statistics.median(samples[ENDPOINTS[0]])
    name = ENDPOINTS[0].strip("/")
    print(f"{'endpoint':<14}{'n':>6}{'median ms':>11}{'p95 ms':>9}{'req/s':>9}  vs floor")
    for path, times in samples.items():
        median = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[-1]
        ratio = f"{path.rsplit('/', 1)[-1]}/{name} = {median / floor:.1f}x"
        print(
            f"{path:<14}{len(times):>6}{median * 1000:>11.3f}{p95 * 1000:>9.3f}"
            f"{1 / statistics.fmean(times):>9.0f}  {ratio}"
        )


def main() -> None:
    n = int(os.environ.get("BENCH_N", "500"))
    servers = start_test_servers()
    try:
        url = servers.recreate_database(BENCH_DB)
        try:
            migrate(servers.owner_url_for(BENCH_DB))
            settings = Settings(
                env=Environment.test,
                secret_key=SECRET,
                database_url=url,
                redis_url=servers.redis_url,
                log_level="WARNING",
                _env_file=None,
            )
            token = insert_staff(servers, settings)
            samples = asyncio.run(measure(settings, token, n))
        finally:
            servers.drop_database(BENCH_DB)
    finally:
        servers.stop()
    report(samples, servers)


if __name__ == "__main__":
    main()
