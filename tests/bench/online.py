"""The public booking page at 1,000,000 appointments over real HTTP: a week of free times.

Run with ``make bench`` (or alone: ``python -m tests.bench.online``). It uses the scheduling
benchmark's kept database (``clinic_bench_schedule``, generated when missing:
``tests/bench/schedule_data.py``), makes its follow-up type bookable online and its location
take bookings, and starts the app with uvicorn on 127.0.0.1 (``tests/bench/serve.py``).

Measured, ``BENCH_N`` sequential requests each in interleaved rounds against ``/healthz``
on the same server in the same run (the floor): ``GET /book/{location}/times`` for the week
two weeks ahead (the availability benchmark's week), with one practitioner (a different one
each request) and with "first available" (all 50 practitioners). p50, p99, the server's CPU
per request, and each p50 as a ratio to the floor's. The issue (#17) sets no goal: it asks
for the figures. Knobs: ``BENCH_N`` (200), ``BENCH_SECONDS`` (120, a phase's time limit).
"""

from __future__ import annotations

import asyncio
import os

import psycopg

from tests.bench import SECRET
from tests.bench import schedule_data as data
from tests.bench.scheduling import (
    APP_FACTORY,
    HEALTH,
    READ_WEEK_AHEAD,
    Phase,
    expected_reads,
    insert_staff,
    measure_reads,
    read_week,
    serving,
    week_appointments,
)
from tests.servers import start_test_servers


def open_for_booking(connection: psycopg.Connection[object]) -> None:
    """The follow-up bookable online from now to a year ahead; the location taking bookings."""
    connection.execute(
        "UPDATE appointment_types SET online_bookable = true, online_notice_minutes = 0,"
        " online_days_ahead = 365 WHERE id = %s",
        (data.type_id(data.FOLLOW_UP),),
    )
    connection.execute(
        "INSERT INTO online_booking_settings (location_id, enabled) VALUES (%s, true)"
        " ON CONFLICT (location_id) DO UPDATE SET enabled = true",
        (data.LOCATION_ID,),
    )


def page_requests(practitioner: str | None) -> list[tuple[str, dict[str, str]]]:
    """The read week's page, with each practitioner in turn (or "first available")."""
    monday = read_week()[0].date().isoformat()
    path = f"/book/{data.LOCATION_ID}/times"
    base = {"type_id": str(data.type_id(data.FOLLOW_UP)), "week": monday}
    if practitioner is not None:
        return [(path, {**base, "practitioner": practitioner})]
    return [
        (path, {**base, "practitioner": str(data.practitioner_id(p))})
        for p in range(data.PRACTITIONERS)
    ]


def _row(name: str, phase: Phase, floor: Phase) -> str:
    return (
        f"{name:<44}{phase.p(50):>9.2f}{phase.p(99):>9.2f}{phase.cpu_ms:>12.2f}"
        f"{phase.p(50) / floor.p(50):>9.1f}x"
    )


def main() -> None:
    n = int(os.environ.get("BENCH_N", "200"))
    seconds = float(os.environ.get("BENCH_SECONDS", "120"))
    servers = start_test_servers()
    try:
        url, meta, generated_now = data.ensure_data(servers, min_filled=READ_WEEK_AHEAD)
        token = insert_staff(servers)
        with psycopg.connect(servers.libpq_url(data.BENCH_DB), autocommit=True) as connection:
            open_for_booking(connection)
            week = week_appointments(connection)
        env = {
            **os.environ,
            "CLINIC_ENV": "test",
            "CLINIC_SECRET_KEY": SECRET,
            "CLINIC_DATABASE_URL": url,
            "CLINIC_REDIS_URL": servers.redis_url,
            "CLINIC_LOG_LEVEL": "WARNING",
        }
        reads = {
            "healthz": [HEALTH],
            "one": page_requests(None),
            "any": page_requests("any"),
        }
        with serving(APP_FACTORY, env, 3 * seconds + 60) as app:
            phases = asyncio.run(measure_reads(app, token, reads, n, seconds))
    finally:
        servers.stop()
    how = "generated now" if generated_now else "kept from an earlier run"
    print(
        f"online booking page at {meta.appointments:,} appointments ({data.BENCH_DB}, {how});"
        f" {week:,} appointments in the week shown"
    )
    print(f"{'':<44}{'p50 ms':>9}{'p99 ms':>9}{'srv CPU ms':>12}{'/healthz':>10}")
    floor = phases["healthz"]
    print(_row("floor: GET /healthz", floor, floor))
    print(_row("GET /book/…/times, one practitioner, 1 week", phases["one"], floor))
    print(_row("GET /book/…/times, first available (50)", phases["any"], floor))
    short = [name for name, phase in phases.items() if phase.n < expected_reads(n)]
    if short:
        raise SystemExit(f"FAILED: the time limit ({seconds:.0f} s a phase) cut short: {short}")


if __name__ == "__main__":
    main()
