"""Check-ins in-process: answering one (``POST /c/{token}``) and a year's outcome chart.

Answers: ``BENCH_CHECKINS`` (default 300) sent check-ins, each of its own patient with a
baseline pain value (so the pain rule runs), answered one at a time as JSON; every tenth
answer carries a red flag, so the urgent path (alert row and alert email in the outbox) is
part of the figure. The floor is ``GET /healthz``, measured in interleaved rounds.

Chart: one patient with 52 weekly visits (pain and headache days from each note) and 52
answered check-ins; ``outcomes.png`` against ``outcomes`` (JSON), the same queries without
the drawing, interleaved request by request.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.app import create_app
from services.checkins.models import Alert
from services.core.database import Database
from services.core.settings import Environment, Settings
from services.messaging.models import Message
from services.notes.models import Observation
from tests.appointments.conftest import Scheduling, add_patient, make_scheduling
from tests.bench import SECRET
from tests.checkins.support import new_checkin, sent_checkin
from tests.factories import Factory
from tests.servers import Servers, migrate, start_test_servers

BENCH_DB = "clinic_bench_checkins"
WARMUP = 20  # answers (and health checks) before the measured ones
ROUNDS = 5
CHART_REQUESTS = 30
CHART_WARMUP = 3  # the first chart imports matplotlib (about a second)
WEEKS = 52
BASELINE_PAIN = 6
RED_FLAGS = (
    "rf_sudden_headache",
    "rf_dizziness",
    "rf_vision",
    "rf_speech_swallowing",
    "rf_numbness_weakness",
    "rf_neck_pain",
)

Samples = dict[str, list[float]]


def answers(i: int) -> dict[str, object]:
    """A valid post-visit v1 submission; every tenth has a red flag (dizziness)."""
    return {
        "pain_now": i % 11,  # 9 and 10 are "pain worse" against the baseline of 6
        "headache": i % 4,
        "migraine_days": i % 5,
        "sleep_quality": 7,
        "pgic": 1 + i % 4,
        **{item: item == "rf_dizziness" and i % 10 == 0 for item in RED_FLAGS},
        "comments": "Better since the visit, still stiff in the morning.",
    }


def observation(
    patient_id: uuid.UUID, code: str, value: int, at: datetime, **kw: Any
) -> Observation:
    unit = {"pain_nrs": "score", "headache_days": "d"}[code]
    return Observation(
        patient_id=patient_id, code=code, value=Decimal(value), unit=unit, at=at, **kw
    )


async def seed_checkins(session: AsyncSession, settings: Settings, count: int) -> list[str]:
    """``count`` sent check-ins after completed visits an hour apart (one practitioner, so
    the visits must not overlap); answers their link tokens."""
    clinic = await make_scheduling(Factory(session, settings))
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    tokens = []
    for n in range(count):
        patient = await add_patient(session)
        visit = await clinic.appointment(
            start - timedelta(hours=n + 2), status="completed", patient=patient
        )
        session.add(
            observation(
                patient.id, "pain_nrs", BASELINE_PAIN, visit.starts_at,
                source="note", appointment_id=visit.id,
            )
        )  # fmt: skip
        _, token = await sent_checkin(session, settings, appointment=visit)
        tokens.append(token)
    return tokens


async def seed_year(session: AsyncSession, settings: Settings) -> Scheduling:
    """Its own clinic and patient: 52 weekly completed visits with pain and headache days
    from each note, and an answered check-in three days after each with its pain value."""
    clinic = await make_scheduling(Factory(session, settings))
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(weeks=WEEKS)
    patient_id = clinic.patient.id
    for n in range(WEEKS):
        visit = await clinic.appointment(first + timedelta(weeks=n), status="completed")
        pain, headache = 8 - 6 * n / WEEKS, 12 - n // 5
        note = {"source": "note", "appointment_id": visit.id}
        answered_at = visit.starts_at + timedelta(days=3)
        checkin = await new_checkin(
            session,
            visit,
            status="answered",
            sent_at=answered_at - timedelta(hours=2),
            expires_at=answered_at + timedelta(days=3),
            answered_at=answered_at,
        )
        session.add_all(
            [
                observation(patient_id, "pain_nrs", round(pain), visit.starts_at, **note),
                observation(patient_id, "headache_days", headache, visit.starts_at, **note),
                observation(
                    patient_id, "pain_nrs", round(pain + 1), answered_at,
                    source="checkin", checkin_id=checkin.id,
                ),
            ]
        )  # fmt: skip
    await session.flush()
    return clinic


async def timed(call: Awaitable[httpx.Response], what: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = await call
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{what} answered {response.status_code}: {response.text}")
    return elapsed, response


async def measure_answers(
    client: httpx.AsyncClient, tokens: list[str], statements: Callable[[], int]
) -> tuple[Samples, list[int]]:
    """Answers the first WARMUP tokens unmeasured, then the rest in ROUNDS rounds, each
    followed by as many health checks; answers the samples and statements per answer."""
    samples: Samples = {"healthz": [], "answer": []}
    counts: list[int] = []

    async def answer(i: int) -> float:
        before = statements()
        call = client.post(f"/c/{tokens[i]}", json={"answers": answers(i)})
        elapsed, _ = await timed(call, "POST /c/{token}")
        counts.append(statements() - before)
        return elapsed

    for i in range(WARMUP):
        await timed(client.get("/healthz"), "GET /healthz")
        await answer(i)
    counts.clear()
    measured = range(WARMUP, len(tokens))
    per_round = max(1, -(-len(measured) // ROUNDS))
    for first in range(measured.start, measured.stop, per_round):
        # interleaved, so drift (autovacuum, a warming cache) affects both alike
        for i in range(first, min(first + per_round, measured.stop)):
            samples["answer"].append(await answer(i))
        for _ in range(min(per_round, measured.stop - first)):
            elapsed, _ = await timed(client.get("/healthz"), "GET /healthz")
            samples["healthz"].append(elapsed)
    return samples, counts


async def measure_chart(client: httpx.AsyncClient, year: Scheduling) -> tuple[Samples, int]:
    """JSON and PNG one after the other, CHART_REQUESTS each; answers the PNG's size.
    The p95s include full garbage collections (a few hundred ms here), set off by the
    chart's allocations but landing in whichever request runs: read the medians."""
    url = f"/api/v1/patients/{year.patient.id}/outcomes"
    headers = year.doctor.headers
    samples: Samples = {"json": [], "png": []}
    size = 0
    for n in range(CHART_WARMUP + CHART_REQUESTS):
        for kind, path in (("json", url), ("png", f"{url}.png")):
            elapsed, response = await timed(client.get(path, headers=headers), f"GET {path}")
            if n >= CHART_WARMUP:
                samples[kind].append(elapsed)
            if kind == "png":
                size = len(response.content)
    return samples, size


async def run(settings: Settings, count: int) -> dict[str, Any]:
    assert settings.database_url
    database = Database.from_url(settings.database_url, pool_size=5)
    executed = 0

    def count_statement(*_: object) -> None:
        nonlocal executed
        executed += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count_statement)
    try:
        async with database.session_scope() as session:  # committed: the app reads them
            tokens = await seed_checkins(session, settings, WARMUP + count)
            year = await seed_year(session, settings)
        app = create_app(settings, database=database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            answered, statements = await measure_answers(client, tokens, lambda: executed)
            chart, png_bytes = await measure_chart(client, year)
        async with database.session_scope() as session:
            urgent = await session.scalar(
                select(func.count()).select_from(Alert).where(Alert.severity == "urgent")
            )
            emails = await session.scalar(
                select(func.count()).select_from(Message).where(Message.kind == "alert")
            )
    finally:
        await database.dispose()  # ASGITransport does not run the lifespan
    red_flags = sum(answers(i)["rf_dizziness"] is True for i in range(len(tokens)))
    if urgent != red_flags or emails != red_flags:
        raise RuntimeError(f"{red_flags} red flags: {urgent} urgent alerts, {emails} emails")
    return {
        "answers": answered,
        "statements": statements,
        "total": len(tokens),
        "red_flags": red_flags,
        "chart": chart,
        "png_bytes": png_bytes,
    }


def line(label: str, times: list[float], floor: float, ratio: str) -> str:
    median = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    per_second = 1 / statistics.fmean(times)
    return (
        f"  {label:<22}{len(times):>5}{median * 1000:>11.3f}{p95 * 1000:>9.3f}"
        f"{per_second:>9.1f}  {ratio} = {median / floor:.1f}x"
    )


def report(result: dict[str, Any], servers: Servers) -> None:
    kind = "embedded" if servers.embedded else "configured (CLINIC_TEST_*_URL)"
    print(f"python {platform.python_version()} | nproc {os.cpu_count()} | servers: {kind}")
    header = f"  {'request':<22}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'/s':>9}  vs floor"
    samples = result["answers"]
    floor = statistics.median(samples["healthz"])
    print(f"check-ins answered one at a time as JSON ({WARMUP} more unmeasured), floor /healthz:")
    print(header)
    print(line("GET /healthz", samples["healthz"], floor, "healthz/healthz"))
    print(line("POST /c/{token}", samples["answer"], floor, "answer/healthz"))
    statements = result["statements"]
    print(
        f"  all 200; {result['total']} answered in all, {result['red_flags']} with a red flag,"
        f" each an urgent alert and an alert email in the outbox"
    )
    print(
        f"  SQL statements per answer: median {statistics.median(statements):.0f},"
        f" max {max(statements)}"
    )
    chart = result["chart"]
    floor = statistics.median(chart["json"])
    print(f"outcome chart, one patient: {WEEKS} weekly visits, {WEEKS} check-ins, floor JSON:")
    print(header)
    print(line("GET …/outcomes", chart["json"], floor, "json/json"))
    print(line("GET …/outcomes.png", chart["png"], floor, "png/json"))
    print(f"  PNG {result['png_bytes']:,} bytes")


def main() -> None:
    count = int(os.environ.get("BENCH_CHECKINS", "300"))
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
            result = asyncio.run(run(settings, count))
        finally:
            servers.drop_database(BENCH_DB)
    finally:
        servers.stop()
    report(result, servers)


if __name__ == "__main__":
    main()
