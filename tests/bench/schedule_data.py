"""The scheduling benchmark's data: one clinic with a few busy years, loaded with COPY.

One location (America/Chicago) with 50 adjustment rooms, an X-ray and a consult room;
50 practitioners (a ``users`` row with the chiropractor role, a ``practitioners`` row, the
location, Monday-Friday 08:00-18:00); 100,000 patients; 1,000,000 appointments.

The day is a grid of 30-minute slots from 08:00 to 17:30 local time, aligned for every
practitioner. A visit fills its slot: a 20-minute follow-up (5 minutes' buffer after), a
30-minute re-exam or new-patient exam. Practitioner ``p`` always uses room ``p``, and the
patient of practitioner ``p`` in slot ``g`` (a global slot counter) is ``(p + 50 g) mod
patients``: at any instant the 50 practitioners see 50 different patients in 50 different
rooms, so the three exclusion constraints never fire. Patients below ``POOL`` get no future
visits: the booking benchmark books them (``booking_patient``).

From today on, 26 weeks are filled sparsely (a quarter of the slots: booked, confirmed, a
few cancelled); the past, going back from yesterday until the total is reached, densely
(nine slots in ten: completed, some cancelled or no-show). A total under the 26 weeks'
~32,500 is all future and stops sooner (``Meta.filled_until``, the day after the last one
it reached, is then before ``Meta.future_until``: 10,000 appointments fill about 8 weeks).
No status history rows are written for generated appointments.

Ids are derived from names (``entity_id``), so the benchmark knows them without a query.
The data is kept between runs, each size in a database of its own (``BENCH_DB`` for
``BENCH_APPOINTMENTS``, ``sized_database(n)`` for the scheduling bench's other sizes): a
``bench_meta`` row records what was generated and the load times, and a later run reuses it
unless ``BENCH_REGENERATE=1``, the counts asked for differ, the generator's version or the
migrations changed, fewer than 8 weeks of the generated future are left, or the filled part
ends sooner than the caller needs (``ensure_data``'s ``min_filled``).
Knobs: ``BENCH_APPOINTMENTS`` (default 1,000,000), ``BENCH_PATIENTS`` (default 100,000).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import queue
import random
import threading
import time as timer
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.core import db_roles
from tests.bench.search import patient_rows
from tests.factories import password_hash
from tests.servers import ROOT, Servers, migrate

BENCH_DB = "clinic_bench_schedule"
VERSION = 1  # bump when the pattern changes: stored data of another version is regenerated
TIME_ZONE = "America/Chicago"
ZONE = ZoneInfo(TIME_ZONE)
PRACTITIONERS = 50
SLOT = timedelta(minutes=30)
FIRST_SLOT = time(8)
SLOTS_PER_DAY = 20  # 08:00 ... 17:30; the working day ends at 18:00
FUTURE_WEEKS = 26
FUTURE_FILL = 0.25
PAST_FILL = 0.9
POOL = 5_000  # patients with no generated future visit, for the booking benchmark
MIN_FUTURE_LEFT = timedelta(weeks=8)
HOLDS_TIME = "status NOT IN ('cancelled', 'no_show', 'rescheduled')"
FLOOR_TABLE = "bench_floor_bookings"
COPY_BATCH = 2_000


@dataclass(frozen=True)
class VisitType:
    key: str
    name: str
    minutes: int
    buffer_after: int
    is_new_patient: bool
    colour: str


FOLLOW_UP = VisitType("follow-up", "Bench NUCCA follow-up", 20, 5, False, "#3BB273")
RE_EXAM = VisitType("re-exam", "Bench re-exam", 30, 0, False, "#E1BC29")
NEW_PATIENT = VisitType("new-patient", "Bench new patient exam", 30, 0, True, "#2E86AB")
TYPES = (FOLLOW_UP, RE_EXAM, NEW_PATIENT)


def sized_database(appointments: int) -> str:
    """The database of one of the other sizes the scheduling bench measures."""
    return f"{BENCH_DB}_{appointments}"


def entity_id(kind: str, key: object) -> uuid.UUID:
    """A stable, random-looking id for one generated row (random v4 ids would need a query)."""
    digest = hashlib.blake2b(f"bench:{kind}:{key}".encode(), digest_size=16).digest()
    return uuid.UUID(bytes=digest, version=4)


LOCATION_ID = entity_id("location", 0)


def practitioner_id(p: int) -> uuid.UUID:
    return entity_id("practitioner", p)


def patient_id(n: int) -> uuid.UUID:
    return entity_id("patient", n)


def type_id(visit: VisitType) -> uuid.UUID:
    return entity_id("type", visit.key)


def slot_number(day: date, slot: int) -> int:
    """A global counter of slots: consecutive within a day, never reused."""
    return day.toordinal() * SLOTS_PER_DAY + slot


def booking_patient(p: int, day: date, slot: int) -> int:
    """The pool patient the benchmark books with practitioner ``p`` in this slot."""
    return (p + PRACTITIONERS * slot_number(day, slot)) % POOL


def slot_start(day: date, slot: int) -> datetime:
    """The slot's start in the location's zone (08:00-17:30 never meets a DST change)."""
    return datetime.combine(day, FIRST_SLOT, tzinfo=ZONE) + slot * SLOT


def is_workday(day: date) -> bool:
    return day.weekday() < 5


@dataclass(frozen=True)
class Meta:
    version: int
    appointments: int
    patients: int
    generated_on: date
    future_until: date  # the first day after the generated future
    filled_until: date  # the first day after the last one with appointments (a small total)
    oldest_day: date
    seconds: dict[str, float]
    schema: str = ""

    def as_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "appointments": self.appointments,
                "patients": self.patients,
                "generated_on": self.generated_on.isoformat(),
                "future_until": self.future_until.isoformat(),
                "filled_until": self.filled_until.isoformat(),
                "oldest_day": self.oldest_day.isoformat(),
                "seconds": self.seconds,
                "schema": self.schema,
            }
        )

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Meta:
        return cls(
            version=int(value["version"]),
            appointments=int(value["appointments"]),
            patients=int(value["patients"]),
            generated_on=date.fromisoformat(value["generated_on"]),
            future_until=date.fromisoformat(value["future_until"]),
            filled_until=date.fromisoformat(value.get("filled_until", value["future_until"])),
            oldest_day=date.fromisoformat(value["oldest_day"]),
            seconds={k: float(v) for k, v in value["seconds"].items()},
            schema=str(value.get("schema", "")),
        )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        yield batch


def _copy(
    connections: list[psycopg.Connection[Any]],
    progress: Progress,
    table: str,
    columns: tuple[str, ...],
    rows: Iterator[tuple[object, ...]],
    total: int,
) -> float:
    """COPY ``rows`` into ``table`` over the connections at once, with a progress bar.

    Batches go round-robin to one COPY per connection (a thread each): the server's side of
    COPY, the index and constraint upkeep, is what takes the time, and it can use every core.
    Answers the seconds it took.
    """
    task = progress.add_task(table, total=total, rate="")
    start = timer.perf_counter()
    queues: list[queue.Queue[list[tuple[object, ...]] | None]] = [
        queue.Queue(maxsize=4) for _ in connections
    ]
    written = [0] * len(connections)
    errors: list[BaseException] = []
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"

    def stream(index: int) -> None:
        connection, batches = connections[index], queues[index]
        try:
            with connection.cursor().copy(sql) as copy:
                for batch in iter(batches.get, None):
                    for row in batch:
                        copy.write_row(row)
                    written[index] += len(batch)
            connection.commit()
        except BaseException as error:
            errors.append(error)
            while batches.get() is not None:  # unblock the producer
                pass

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(connections))]
    for thread in threads:
        thread.start()
    try:
        for number, batch in enumerate(_batches(rows)):
            if errors:
                break
            queues[number % len(queues)].put(batch)
            done = sum(written)
            rate = done / (timer.perf_counter() - start)
            progress.update(task, completed=done, rate=f"{rate:,.0f} rows/s")
    finally:
        for batches in queues:
            batches.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    elapsed = timer.perf_counter() - start
    done = sum(written)
    progress.update(task, completed=done, rate=f"{done / elapsed:,.0f} rows/s")
    if done != total:
        raise RuntimeError(f"{table}: wrote {done:,} rows, expected {total:,}")
    return elapsed


def _setup(connection: psycopg.Connection[Any]) -> None:
    """The location, rooms, practitioners, their hours and the appointment types."""
    connection.execute(
        "INSERT INTO locations (id, name, address, phone, time_zone)"
        " VALUES (%s, 'Bench Clinic', '1 Bench St, Chicago, IL', '+13125550100', %s)",
        (LOCATION_ID, TIME_ZONE),
    )
    connection.execute("INSERT INTO message_settings (location_id) VALUES (%s)", (LOCATION_ID,))
    rooms = [
        (entity_id("room", p), f"Adjustment {p + 1:02d}", "adjustment")
        for p in range(PRACTITIONERS)
    ]
    rooms += [(entity_id("room", "xray"), "X-ray", "xray")]
    rooms += [(entity_id("room", "consult"), "Consult", "consult")]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO rooms (id, location_id, name, kind) VALUES (%s, %s, %s, %s)",
            [(room_id, LOCATION_ID, name, kind) for room_id, name, kind in rooms],
        )
        cursor.executemany(
            "INSERT INTO users (id, email, full_name, password_hash, roles)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    entity_id("user", p),
                    f"dr{p + 1:02d}@bench.example",
                    f"Dr. Bench {p + 1:02d}",
                    password_hash(),
                    ["chiropractor"],
                )
                for p in range(PRACTITIONERS)
            ],
        )
        cursor.executemany(
            "INSERT INTO practitioners (id, user_id, display_name, credentials)"
            " VALUES (%s, %s, %s, 'DC')",
            [
                (practitioner_id(p), entity_id("user", p), f"Dr. Bench {p + 1:02d}")
                for p in range(PRACTITIONERS)
            ],
        )
        cursor.executemany(
            "INSERT INTO practitioner_locations (practitioner_id, location_id) VALUES (%s, %s)",
            [(practitioner_id(p), LOCATION_ID) for p in range(PRACTITIONERS)],
        )
        cursor.executemany(
            "INSERT INTO working_hours (practitioner_id, location_id, weekday, start_time,"
            " end_time) VALUES (%s, %s, %s, '08:00', '18:00')",
            [
                (practitioner_id(p), LOCATION_ID, weekday)
                for p in range(PRACTITIONERS)
                for weekday in range(5)
            ],
        )
        cursor.executemany(
            "INSERT INTO appointment_types (id, name, duration_minutes, buffer_after_minutes,"
            " room_kind, is_new_patient, colour) VALUES (%s, %s, %s, %s, 'adjustment', %s, %s)",
            [
                (type_id(t), t.name, t.minutes, t.buffer_after, t.is_new_patient, t.colour)
                for t in TYPES
            ],
        )
    connection.commit()


def _patients(count: int) -> Iterator[tuple[object, ...]]:
    for n, row in enumerate(patient_rows(count)):
        yield (patient_id(n), *row, LOCATION_ID)


APPOINTMENT_COLUMNS = (
    "patient_id",
    "practitioner_id",
    "location_id",
    "room_id",
    "appointment_type_id",
    "starts_at",
    "ends_at",
    "held_from",
    "held_until",
    "status",
    "cancel_reason",
    "late_cancel",
    "created_at",
    "status_changed_at",
)


def _workdays(start: date, step: int) -> Iterator[date]:
    day = start
    while True:
        if is_workday(day):
            yield day
        day += timedelta(days=step)


class _Plan:
    """Where the generated appointments go; remembers the oldest day it reached."""

    def __init__(self, today: date, total: int, patients: int) -> None:
        self.today = today
        self.total = total
        self.patients = patients
        self.future_until = today + timedelta(weeks=FUTURE_WEEKS)
        self.filled_until = self.future_until
        self.oldest_day = today
        self.rng = random.Random(20261124)
        self.practitioners = [practitioner_id(p) for p in range(PRACTITIONERS)]
        self.rooms = [entity_id("room", p) for p in range(PRACTITIONERS)]
        self.patient_ids = [patient_id(n) for n in range(patients)]
        self.types = {t.key: type_id(t) for t in TYPES}

    def rows(self) -> Iterator[tuple[object, ...]]:
        """The future first (sparse, ascending), then the past (dense, going back)."""
        made = 0
        for day in _workdays(self.today, 1):
            if day >= self.future_until:
                break
            for row in self._day(day, future=True):
                yield row
                made += 1
                if made == self.total:
                    self.filled_until = day + timedelta(days=1)  # a small total
                    return
        for day in _workdays(self.today - timedelta(days=1), -1):
            self.oldest_day = day
            for row in self._day(day, future=False):
                yield row
                made += 1
                if made == self.total:
                    return

    def _day(self, day: date, *, future: bool) -> Iterator[tuple[object, ...]]:
        rng = self.rng
        fill = FUTURE_FILL if future else PAST_FILL
        # The future was booked recently; a past visit some weeks before it took place.
        booked_at = datetime.combine(self.today, time(9), tzinfo=ZONE) - timedelta(days=3)
        for slot in range(SLOTS_PER_DAY):
            starts = slot_start(day, slot).astimezone(UTC)
            number = slot_number(day, slot)
            created = booked_at if future else starts - timedelta(days=21)
            for p in range(PRACTITIONERS):
                if rng.random() >= fill:
                    continue
                draw = rng.random()
                visit = FOLLOW_UP if draw < 0.85 else RE_EXAM if draw < 0.95 else NEW_PATIENT
                ends = starts + timedelta(minutes=visit.minutes)
                held_until = ends + timedelta(minutes=visit.buffer_after)
                if future:
                    n = POOL + (p + PRACTITIONERS * number) % (self.patients - POOL)
                else:
                    n = (p + PRACTITIONERS * number) % self.patients
                status, reason, late = self._status(future)
                yield (
                    self.patient_ids[n],
                    self.practitioners[p],
                    LOCATION_ID,
                    self.rooms[p],
                    self.types[visit.key],
                    starts,
                    ends,
                    starts,
                    held_until,
                    status,
                    reason,
                    late,
                    created,
                    created if status in ("booked", "confirmed") else starts,
                )

    def _status(self, future: bool) -> tuple[str, str | None, bool]:
        draw = self.rng.random()
        if draw < 0.04:
            reason = ("patient", "clinic", "illness")[int(draw * 75) % 3]
            return "cancelled", reason, reason == "patient" and draw < 0.01
        if future:
            return ("confirmed" if draw < 0.3 else "booked"), None, False
        return ("no_show" if draw < 0.07 else "completed"), None, False


def read_meta(servers: Servers, database: str = BENCH_DB) -> Meta | None:
    """What a bench database holds, or None when it has no complete generated data."""
    try:
        with psycopg.connect(servers.libpq_url(database)) as connection:
            row = connection.execute(
                "SELECT value FROM bench_meta WHERE key = 'schedule'"
            ).fetchone()
    except psycopg.Error:
        return None  # no database, or no bench_meta table: nothing generated yet
    return Meta.from_json(row[0]) if row else None


def schema_fingerprint() -> str:
    """A hash of the migrations: a migration edited in place (same revision) still counts."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted((ROOT / "alembic" / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _filled_left(meta: Meta) -> timedelta:
    return meta.filled_until - datetime.now(ZONE).date()


def _usable(meta: Meta | None, appointments: int, patients: int, min_filled: timedelta) -> bool:
    if meta is None or os.environ.get("BENCH_REGENERATE") == "1":
        return False
    return (
        meta.version == VERSION
        and meta.schema == schema_fingerprint()
        and meta.appointments == appointments
        and meta.patients == patients
        and meta.future_until - datetime.now(ZONE).date() >= MIN_FUTURE_LEFT
        and _filled_left(meta) >= min_filled
    )


def ensure_data(
    servers: Servers,
    database: str = BENCH_DB,
    appointments: int | None = None,
    min_filled: timedelta = timedelta(0),
) -> tuple[str, Meta, bool]:
    """A bench database's URL and what it holds; generates it when needed.

    ``appointments`` defaults to ``BENCH_APPOINTMENTS``. The generated appointments must
    reach ``min_filled`` past today: a total too small to fill that much is refused (the
    future is filled first, so a small total is all future, ~250 appointments a workday).
    Answers ``(url, meta, generated_now)``.
    """
    if appointments is None:
        appointments = int(os.environ.get("BENCH_APPOINTMENTS", "1000000"))
    patients = int(os.environ.get("BENCH_PATIENTS", "100000"))
    if patients <= POOL + PRACTITIONERS:
        raise ValueError(f"BENCH_PATIENTS must be over {POOL + PRACTITIONERS}")
    meta = read_meta(servers, database)
    if _usable(meta, appointments, patients, min_filled):
        assert meta is not None
        url = servers.url_for(database)
        migrate(servers.owner_url_for(database))  # a no-op unless a migration was added since
        return url, meta, False
    url, meta, generated_now = _generate(servers, appointments, patients, database)
    if _filled_left(meta) < min_filled:
        raise ValueError(
            f"{appointments:,} appointments fill the future only until {meta.filled_until}:"
            f" {min_filled.days} days from today are needed"
        )
    return url, meta, generated_now


def _generate(
    servers: Servers, appointments: int, patients: int, database: str = BENCH_DB
) -> tuple[str, Meta, bool]:
    url = servers.recreate_database(database)
    seconds: dict[str, float] = {}
    start = timer.perf_counter()
    migrate(servers.owner_url_for(database))
    seconds["migrate"] = timer.perf_counter() - start
    today = datetime.now(ZONE).date()
    plan = _Plan(today, appointments, patients)
    streams = int(os.environ.get("BENCH_COPY_STREAMS", "2"))
    extra = [psycopg.connect(servers.libpq_url(database)) for _ in range(streams - 1)]
    with psycopg.connect(servers.libpq_url(database)) as connection:
        connections = [connection, *extra]
        connection.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        _setup(connection)
        with _progress() as progress:
            seconds["patients"] = _copy(
                connections,
                progress,
                "patients",
                (
                    "id",
                    "given_name",
                    "family_name",
                    "date_of_birth",
                    "phone",
                    "email",
                    "time_zone",
                    "home_location_id",
                ),
                _patients(patients),
                patients,
            )
            seconds["appointments"] = _copy(
                connections,
                progress,
                "appointments",
                APPOINTMENT_COLUMNS,
                plan.rows(),
                appointments,
            )
        for other in extra:
            other.close()
        step = timer.perf_counter()
        create_floor_table(connection)
        connection.execute(
            f"INSERT INTO {FLOOR_TABLE} (practitioner_id, during, seeded)"  # noqa: S608
            f" SELECT practitioner_id, held, true FROM appointments WHERE {HOLDS_TIME}"
        )
        connection.commit()
        seconds["floor_table"] = timer.perf_counter() - step
        step = timer.perf_counter()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
        seconds["vacuum_analyze"] = timer.perf_counter() - step
        seconds["total"] = timer.perf_counter() - start
        meta = Meta(
            version=VERSION,
            appointments=appointments,
            patients=patients,
            generated_on=today,
            future_until=plan.future_until,
            filled_until=plan.filled_until,
            oldest_day=plan.oldest_day,
            seconds={k: round(v, 2) for k, v in seconds.items()},
            schema=schema_fingerprint(),
        )
        connection.execute(
            "INSERT INTO bench_meta (key, value) VALUES ('schedule', %s)", (meta.as_json(),)
        )
    return url, meta, True


def create_floor_table(connection: psycopg.Connection[Any]) -> None:
    """The floor's table: nothing but the practitioner exclusion constraint of appointments."""
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} ("
        " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
        " practitioner_id uuid NOT NULL,"
        " during tstzrange NOT NULL,"
        " seeded boolean NOT NULL DEFAULT false,"
        f" CONSTRAINT ex_{FLOOR_TABLE}_practitioner"
        "  EXCLUDE USING gist (practitioner_id WITH =, during WITH &&))"
    )
    # Made by the maintenance login (a superuser), so the owner's default privileges do not
    # apply: the floor app logs in as the app does and needs these two.
    connection.execute(f"GRANT SELECT, INSERT ON {FLOOR_TABLE} TO {db_roles.APP_ROLE}")


def describe(meta: Meta, generated_now: bool) -> list[str]:
    """Lines for the report: what is in the database and how long loading it took."""
    s = meta.seconds
    how = "generated now" if generated_now else f"reused, generated on {meta.generated_on}"
    return [
        f"data ({how}): {meta.appointments:,} appointments ({meta.oldest_day} to"
        f" {meta.filled_until}), {PRACTITIONERS} practitioners, {meta.patients:,} patients",
        f"load: patients {s['patients']:.1f} s ({meta.patients / s['patients']:,.0f} rows/s),"
        f" appointments {s['appointments']:.1f} s"
        f" ({meta.appointments / s['appointments']:,.0f} rows/s, COPY into the constrained"
        f" table), floor table {s['floor_table']:.1f} s, VACUUM ANALYZE"
        f" {s['vacuum_analyze']:.1f} s, total {s['total']:.1f} s",
    ]


def main() -> None:
    """``python -m tests.bench.schedule_data``: generate (or find) the data and say so."""
    from tests.servers import start_test_servers

    servers = start_test_servers()
    try:
        _, meta, generated_now = ensure_data(servers)
    finally:
        servers.stop()
    for line in describe(meta, generated_now):
        print(line)


if __name__ == "__main__":
    main()
