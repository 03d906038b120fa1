"""The outbox: due→sent throughput against a no-op Celery task, and the claim at 1,000,000.

Throughput: one worker process (``--pool solo``), then the worker as ``clinic worker`` runs
it (prefork, 2 processes), each with one beat on the same Redis; the floor is the same
worker running a no-op task (``workers.tasks.maintenance.ping``) sent straight
to its queue, measured in the same run. The messages go by email to a local aiosmtpd sink.
The ratio says how much of the worker's task budget the outbox's checks, rendering, SMTP
and bookkeeping cost.

Claim: 1,000,000 messages (1,000 of them due and pending), the dispatcher's claim
statement executed and rolled back, timed at the database (EXPLAIN ANALYZE).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from celery import Celery
from sqlalchemy import create_engine

from services.messaging.outbox import claim_statement
from tests.fakes.smtp import FakeSmtpServer
from tests.messaging.outbox_world import World, seed, wait_until_sent
from tests.servers import Servers, migrate, start_test_servers

BENCH_DB = "clinic_bench_messaging"
CLAIM_REPEAT = 30
DEFAULT_CONCURRENCY = 2  # ``clinic worker``'s default (services/cli.py)
REMINDER_GOAL = 0.3  # issue #16: messages/s per worker process against the no-op task


def _noop_per_second(world: World, redis_url: str, count: int) -> float:
    client = Celery("bench-client", broker=redis_url, backend=redis_url)
    queue = world.env["CLINIC_TASK_QUEUE"]
    client.send_task("workers.tasks.maintenance.ping", queue=queue).get(timeout=60)  # warm
    started = time.perf_counter()
    results = [
        client.send_task("workers.tasks.maintenance.ping", queue=queue) for _ in range(count)
    ]
    results[-1].get(timeout=600)  # one solo worker, one queue: the last one finishes last
    elapsed = time.perf_counter() - started
    assert all(r.ready() for r in results)
    return count / elapsed


def _sent_per_second(world: World, url: str, count: int) -> float:
    """From the moment the messages fall due to the last one sent (seeding not timed)."""
    due = datetime.now(UTC) + timedelta(seconds=10)
    ids = seed(url, count, send_at=due)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    started = time.perf_counter()
    wait_until_sent(url, ids, 900, world)
    return count / (time.perf_counter() - started)


def throughput(
    servers: Servers, url: str, count: int, *, smtp: bool, prefork: int = 0
) -> tuple[float, float]:
    """(messages/s, no-op tasks/s) on one worker process (``prefork``: that many child
    processes instead, Celery's default pool); ``smtp`` False: the outbox folder."""
    sink = FakeSmtpServer().start() if smtp else None
    world = World.create(
        url,
        servers.redis_url,
        sink.port if sink else None,
        Path(tempfile.mkdtemp(prefix="bench-outbox-")),
        CLINIC_DISPATCH_INTERVAL_SECONDS="0.2",
        CLINIC_QUEUED_TIMEOUT_SECONDS="600",
        CLINIC_LOG_LEVEL="WARNING",
    )
    try:
        world.worker(prefork=prefork)
        world.beat()
        noop = _noop_per_second(world, servers.redis_url, count)
        sent = _sent_per_second(world, url, count)
        if sink:
            assert len({m.message_id for m in sink.messages}) == count
    finally:
        world.stop()
        if sink:
            sink.stop()
    return sent, noop


def claim_ms(libpq_url: str, total: int) -> tuple[list[float], str]:
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO messages (kind, patient_id, location_id, channel, offset_minutes,"
            " send_at, status, sent_at)"
            " SELECT 'reminder', p.id, l.id, 'email', 100000 + n,"
            " now() - interval '1 minute' * (n %% 10000),"
            " CASE WHEN n %% 1000 = 0 THEN 'pending' ELSE 'sent' END,"
            " CASE WHEN n %% 1000 = 0 THEN NULL ELSE now() END"
            " FROM generate_series(1, %s) AS n,"
            " (SELECT id FROM patients LIMIT 1) AS p, (SELECT id FROM locations LIMIT 1) AS l",
            (total,),
        )
        connection.execute("VACUUM ANALYZE messages")
        compiled = claim_statement(datetime.now(UTC), 500).compile(
            dialect=create_engine("postgresql+psycopg://").dialect  # no connection is made
        )
        literals = {
            name: psycopg.sql.Literal(value).as_string(connection)
            for name, value in compiled.params.items()
        }
        sql = str(compiled) % literals
        timings, plan = [], ""
        for _ in range(CLAIM_REPEAT + 3):
            with connection.transaction(force_rollback=True):
                row = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()
            assert row is not None
            explained = row[0][0]
            timings.append(float(explained["Execution Time"]))
            plan = json.dumps(explained["Plan"])
    return timings[3:], plan


def main() -> None:
    count = int(os.environ.get("BENCH_MESSAGES", "2000"))
    total = int(os.environ.get("BENCH_OUTBOX_ROWS", "1000000"))
    servers = start_test_servers()
    try:
        url = servers.recreate_database(BENCH_DB)
        try:
            migrate(servers.owner_url_for(BENCH_DB))
            by_smtp = throughput(servers, url, count, smtp=True)
            by_default = throughput(servers, url, count, smtp=True, prefork=DEFAULT_CONCURRENCY)
            by_file = throughput(servers, url, count, smtp=False)
            claims, plan = claim_ms(servers.libpq_url(BENCH_DB), total)
        finally:
            servers.drop_database(BENCH_DB)
    finally:
        servers.stop()
    print(f"outbox, {count:,} due email messages, floor (a no-op task) on the same worker:")
    rows = (
        ("solo worker, local SMTP server", by_smtp),
        (f"clinic worker ({DEFAULT_CONCURRENCY} processes), SMTP", by_default),
        ("solo worker, outbox folder", by_file),
    )
    for label, (sent, noop) in rows:
        print(
            f"  {label:<34} {sent:7.1f} messages/s vs no-op task {noop:7.1f} tasks/s"
            f"   ratio {sent / noop:.2f}"
        )
    sent, noop = by_smtp
    met = "met" if sent / noop >= REMINDER_GOAL else "MISSED"
    print(
        f"summary: reminders per worker process {sent / noop:.2f}x the no-op task"
        f" (goal >= {REMINDER_GOAL}: {met})"
    )
    median = statistics.median(claims)
    p95 = sorted(claims)[int(len(claims) * 0.95) - 1]
    print(f"claim of 500 due rows at {total:,} messages: median {median:.2f} ms, p95 {p95:.2f} ms")
    print(f"  uses the partial index ix_messages_due: {'ix_messages_due' in plan}")


if __name__ == "__main__":
    main()
