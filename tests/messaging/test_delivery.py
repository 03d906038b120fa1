"""The outbox end to end: real worker and beat processes, real Redis, a real SMTP server.

Fault tests kill the worker mid-batch, flush Redis mid-run and run two beats at once;
afterwards every message must have reached the SMTP server, counted by Message-ID. A slow
server (15 s per message) must hold no lock, transaction or connection of the sender's.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from services import wiring
from services.appointments import lifecycle
from services.appointments.models import Appointment
from services.appointments.schemas import Cancel, CancelReason
from services.clinic.models import MessageSettings
from services.core import clock
from services.core.database import Database
from services.core.deps import ClientInfo
from services.core.settings import Settings
from services.messaging.models import Message, MessageLink
from services.messaging.schedule import appointment_booked, appointment_cancelled
from services.messaging.sending import send_one
from services.patients.models import PatientConsent
from tests.conftest import TEST_SECRET
from tests.fakes.smtp import FakeSmtpServer
from tests.messaging.outbox_world import (
    World,
    engine_for,
    quiet_hours_away_from_now,
    seed,
    wait_until_sent,
)
from tests.servers import TEMPLATE_DB, Servers
from workers import channels

DB = "clinic_test_delivery"


@pytest.fixture(scope="module")
def database_url(servers: Servers) -> Iterator[str]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    yield url
    servers.drop_database(DB)


@pytest.fixture
def world(
    servers: Servers, database_url: str, smtp: FakeSmtpServer, tmp_path: Path
) -> Iterator[World]:
    created = World.create(database_url, servers.redis_url, smtp.port, tmp_path)
    yield created
    created.stop()


def unique_and_duplicates(sink: FakeSmtpServer) -> tuple[int, int]:
    counts = Counter(m.message_id for m in sink.messages)
    return len(counts), sum(n - 1 for n in counts.values())


def test_due_messages_reach_the_smtp_server_once_each(
    world: World, smtp: FakeSmtpServer, database_url: str
) -> None:
    ids = seed(database_url, 100)
    world.worker()
    world.beat()
    wait_until_sent(database_url, ids, 90, world)
    assert unique_and_duplicates(smtp) == (100, 0)
    assert {m.message_id for m in smtp.messages} >= {f"<{i}@localhost>" for i in ids[:5]}


def test_the_default_worker_pool_sends_each_message_once_and_cleanly(
    world: World, smtp: FakeSmtpServer, database_url: str
) -> None:
    """``clinic worker`` runs prefork children: each needs its own database connections (a
    connection the parent opened and the children inherited once served two senders at
    once, mixing their rows: StaleDataError, ResourceClosedError, messages left queued)."""
    ids = seed(database_url, 300)
    world.worker(prefork=2)
    world.beat()
    wait_until_sent(database_url, ids, 90, world)
    assert unique_and_duplicates(smtp) == (300, 0)
    assert "raised unexpected" not in world.logs()


def test_a_killed_worker_and_two_beats_lose_nothing(
    world: World, smtp: FakeSmtpServer, database_url: str
) -> None:
    ids = seed(database_url, 1000)
    first = world.worker()
    world.beat()
    world.beat()  # two schedulers claiming at once
    smtp.wait_for(150, 90)
    first.send_signal(signal.SIGKILL)  # mid-batch, maybe mid-send
    first.wait(10)
    world.worker()
    wait_until_sent(database_url, ids, 180, world)
    unique, duplicates = unique_and_duplicates(smtp)
    print(f"kill test: {unique} unique messages, {duplicates} duplicates")
    assert unique == 1000
    # Only a send the kill interrupted after the server accepted it can repeat.
    assert duplicates <= 1


def test_redis_flushed_mid_run_loses_nothing(
    world: World, smtp: FakeSmtpServer, database_url: str, servers: Servers
) -> None:
    ids = seed(database_url, 300)
    world.worker()
    world.beat()
    smtp.wait_for(40, 90)
    # Everything Redis held for this run (its queue and results) is gone; FLUSHDB, not
    # FLUSHALL, so a parallel worker's own Redis database is left alone.
    redis.Redis.from_url(servers.redis_url).flushdb()
    wait_until_sent(database_url, ids, 120, world)
    unique, duplicates = unique_and_duplicates(smtp)
    print(f"flush test: {unique} unique messages, {duplicates} duplicates")
    assert (unique, duplicates) == (300, 0)


STALL_SECONDS = 15.0  # a slow provider, below the SMTP timeout (20 s): each send succeeds


def _appointment_of(database_url: str, message_id: uuid.UUID) -> uuid.UUID:
    engine = engine_for(database_url)
    with engine.connect() as connection:
        appointment_id: uuid.UUID | None = connection.scalar(
            select(Message.appointment_id).where(Message.id == message_id)
        )
    engine.dispose()
    assert appointment_id is not None
    return appointment_id


async def _cancel_visit(database_url: str, appointment_id: uuid.UUID, settings: Settings) -> float:
    """Cancel through the appointments service, as the front desk's request does (its
    events wired as the app wires them); answers the seconds from the start of the
    transaction to its commit."""
    database = Database.from_url(database_url, pool_size=1, events=wiring.events(settings))
    try:
        started = time.monotonic()
        async with database.session_scope() as session:
            appointment = await session.get_one(Appointment, appointment_id, with_for_update=True)
            await lifecycle.cancel_one(
                session,
                appointment,
                Cancel(reason=CancelReason.patient),
                actor=None,
                client=ClientInfo(address=None, request_id=None),
                now=clock.utcnow(),
            )
        return time.monotonic() - started
    finally:
        await database.dispose()


def _open_transactions(database_url: str) -> tuple[int, int]:
    """Other sessions of this database now inside a transaction, and those in one for more
    than a second (each sample its own transaction: pg_stat_activity is a snapshot)."""
    engine = engine_for(database_url)
    with engine.begin() as connection:
        busy, long = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE xact_start IS NOT NULL),"
                " count(*) FILTER (WHERE xact_start < clock_timestamp() - interval '1 second')"
                " FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).one()
    engine.dispose()
    return int(busy), int(long)


@pytest.fixture
def quiet_world(
    servers: Servers, smtp: FakeSmtpServer, tmp_path: Path
) -> Iterator[tuple[World, str]]:
    """A world on a database of its own: no row another test left due can reach its
    worker (and take one of the SMTP server's stalls)."""
    url = servers.recreate_database(f"{DB}_stall", template=TEMPLATE_DB)
    created = World.create(url, servers.redis_url, smtp.port, tmp_path)
    yield created, url
    created.stop()
    servers.drop_database(f"{DB}_stall")


@pytest.mark.slow
def test_a_stalled_smtp_server_holds_no_lock_and_no_connection(
    quiet_world: tuple[World, str], smtp: FakeSmtpServer, settings: Settings
) -> None:
    """Ten sends wait 15 s each on the SMTP server, side by side in one worker process:
    meanwhile no row is locked, no transaction is open, a cancel of one of those visits
    commits at once, and the same worker still sends an eleventh message."""
    world, database_url = quiet_world
    # Visits whose reminders are not due: one cancelled first (this process's first cancel
    # pays for imports, connecting and compiling statements), one after the stall (the
    # floor: the same cancel with nothing sending).
    warm_up, later = seed(database_url, 2, send_at=datetime.now(UTC) + timedelta(days=1))
    cold = asyncio.run(
        _cancel_visit(database_url, _appointment_of(database_url, warm_up), settings)
    )
    smtp.stall(STALL_SECONDS, times=10)
    ids = seed(database_url, 10)
    world.worker(threads=12)
    world.beat()
    smtp.wait_stalling(10, 30)  # all ten at the server at once
    stalled_at = time.monotonic()

    samples = [_open_transactions(database_url) for _ in range(10)]
    engine = engine_for(database_url)
    with engine.begin() as connection:  # raises LockNotAvailable if a sender held a row
        locked = connection.execute(
            select(Message.id).where(Message.id.in_(ids)).with_for_update(nowait=True)
        ).all()
    engine.dispose()
    cancel = asyncio.run(
        _cancel_visit(database_url, _appointment_of(database_url, ids[0]), settings)
    )
    [eleventh] = seed(database_url, 1)
    wait_until_sent(database_url, [eleventh], 10, world)
    eleventh_after = time.monotonic() - stalled_at
    still_stalled = smtp.stalled_now

    print(
        f"stall test: cancel {cancel * 1000:.0f} ms (the first, cold: {cold * 1000:.0f} ms);"
        f" sessions in a transaction at most"
        f" {max(b for b, _ in samples)}, in one over 1 s at most {max(n for _, n in samples)};"
        f" an eleventh message sent {eleventh_after:.1f} s into the stall"
    )
    assert len(locked) == 10
    assert max(long for _, long in samples) == 0  # nobody waits on SMTP inside a transaction
    assert max(busy for busy, _ in samples) <= 2  # at most the dispatcher's and the reaper's
    assert cancel < 1.0
    assert still_stalled == 10  # the eleventh went out while all ten still waited

    wait_until_sent(database_url, ids, STALL_SECONDS + 15, world)
    assert time.monotonic() - stalled_at < STALL_SECONDS + 10  # the waits overlapped
    floor = asyncio.run(_cancel_visit(database_url, _appointment_of(database_url, later), settings))
    print(f"stall test: the same cancel with nothing sending: {floor * 1000:.0f} ms")
    received = {m.message_id for m in smtp.messages}
    assert {f"<{i}@localhost>" for i in [*ids, eleventh]} <= received
    assert unique_and_duplicates(smtp)[1] == 0
    # The cancelled visit's reminder was on its way: sent, and the patient is told.
    engine = engine_for(database_url)
    with engine.connect() as connection:
        notices = connection.execute(
            select(Message.status).where(
                Message.appointment_id == _appointment_of(database_url, ids[0]),
                Message.kind == "cancellation",
            )
        ).all()
    engine.dispose()
    assert len(notices) == 1


async def _book(database_url: str, appointment_id: uuid.UUID, settings: Settings) -> None:
    database = Database.from_url(database_url, pool_size=1)
    try:
        async with database.session_scope() as session:
            appointment = await session.get_one(Appointment, appointment_id)
            await appointment_booked(session, appointment, settings)
    finally:
        await database.dispose()


def _visit_in(database_url: str, delay: timedelta) -> uuid.UUID:
    """One booked visit ``delay`` from now (no messages yet), its location reminding 2h
    before, with quiet hours away from now."""
    seed(database_url, 1)
    engine = engine_for(database_url)
    with Session(engine) as session, session.begin():
        appointment = session.scalars(
            select(Appointment).order_by(Appointment.created_at.desc()).limit(1)
        ).one()
        session.execute(
            update(Message)
            .where(Message.appointment_id == appointment.id)
            .values(status="cancelled")
        )
        starts = datetime.now(UTC).replace(microsecond=0) + delay
        appointment.starts_at, appointment.ends_at = starts, starts + timedelta(minutes=30)
        appointment.held_from, appointment.held_until = appointment.starts_at, appointment.ends_at
        start, end = (int(p[:2]) for p in quiet_hours_away_from_now().split("-"))
        quiet = MessageSettings(location_id=appointment.location_id, reminder_offsets_minutes=[120])
        quiet.quiet_start, quiet.quiet_end = (
            datetime.now(UTC).replace(hour=start, minute=0).time(),
            datetime.now(UTC).replace(hour=end, minute=0).time(),
        )
        session.add(quiet)
        appointment_id = appointment.id
    engine.dispose()
    return appointment_id


def _messages_of(database_url: str, appointment_id: uuid.UUID) -> list[uuid.UUID]:
    engine = engine_for(database_url)
    with engine.connect() as connection:
        ids = list(
            connection.scalars(
                select(Message.id).where(
                    Message.appointment_id == appointment_id, Message.status != "cancelled"
                )
            )
        )
    engine.dispose()
    return ids


def test_a_booking_confirms_at_once_and_reminds_at_the_due_time(
    world: World, smtp: FakeSmtpServer, database_url: str, settings: Settings
) -> None:
    appointment_id = _visit_in(database_url, timedelta(hours=2, seconds=12))
    world.worker()
    world.beat()
    asyncio.run(_book(database_url, appointment_id, settings))
    due = datetime.now(UTC) + timedelta(seconds=10)

    confirmation = smtp.wait_for(1, 30)
    assert len(confirmation) == 1 and "/a/" in confirmation[0].body
    reminder = smtp.wait_for(2, 45)
    arrived = datetime.now(UTC)
    assert len(reminder) == 2, world.logs()[-3000:]
    assert (reminder[1].subject or "").startswith("Reminder")
    assert due - timedelta(seconds=3) <= arrived <= due + timedelta(seconds=15)
    # The server has the text before the worker commits its outcome: wait for the commit.
    sent = _messages_of(database_url, appointment_id)
    wait_until_sent(database_url, sent, 10, world)
    engine = engine_for(database_url)
    with engine.connect() as connection:
        links = connection.execute(
            select(MessageLink.expires_at)
            .join(Message, Message.id == MessageLink.message_id)
            .where(Message.appointment_id == appointment_id)
        ).all()
    engine.dispose()
    assert len(links) == 2  # one per message, expiring at the visit's start


# In-process sends: the same send_one a worker runs, against the committed database.


def _settings(database_url: str, smtp: FakeSmtpServer) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        quiet_hours=quiet_hours_away_from_now(),
    )


def _queue(database_url: str, message_id: uuid.UUID) -> None:
    engine = engine_for(database_url)
    with engine.begin() as connection:
        connection.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status="queued", queued_at=datetime.now(UTC))
        )
    engine.dispose()


def _send(database_url: str, message_id: uuid.UUID, settings: Settings) -> str:
    engine = engine_for(database_url)
    with Session(engine) as session:  # send_one commits its own steps
        outcome = send_one(session, message_id, settings, channels.send, datetime.now(UTC))
    engine.dispose()
    return outcome


async def _cancel(database_url: str, appointment_id: uuid.UUID, settings: Settings) -> None:
    database = Database.from_url(database_url, pool_size=1)
    try:
        async with database.session_scope() as session:
            appointment = await session.get_one(Appointment, appointment_id, with_for_update=True)
            appointment.status, appointment.cancel_reason = "cancelled", "patient"
            await appointment_cancelled(session, appointment, settings)
    finally:
        await database.dispose()


def test_a_reminder_queued_when_the_cancel_commits_is_not_sent(
    smtp: FakeSmtpServer, database_url: str, settings: Settings
) -> None:
    [message_id] = seed(database_url, 1)
    _queue(database_url, message_id)
    engine = engine_for(database_url)
    with engine.connect() as connection:
        appointment_id = connection.scalar(
            select(Message.appointment_id).where(Message.id == message_id)
        )
    engine.dispose()
    assert appointment_id is not None
    asyncio.run(_cancel(database_url, appointment_id, settings))

    assert _send(database_url, message_id, _settings(database_url, smtp)) == "not_queued"
    time.sleep(0.2)
    assert smtp.messages == []


def test_consent_withdrawn_between_queue_and_send_skips_the_message(
    smtp: FakeSmtpServer, database_url: str
) -> None:
    [message_id] = seed(database_url, 1)
    _queue(database_url, message_id)
    engine = engine_for(database_url)
    with Session(engine) as session, session.begin():
        patient_id = session.scalar(select(Message.patient_id).where(Message.id == message_id))
        assert patient_id is not None
        session.add(
            PatientConsent(
                patient_id=patient_id,
                channel="email",
                granted=False,
                method="phone",
                recorded_at=datetime.now(UTC),
            )
        )
    assert _send(database_url, message_id, _settings(database_url, smtp)) == "skipped"
    with engine.connect() as connection:
        row = connection.execute(
            select(Message.status, Message.reason).where(Message.id == message_id)
        ).one()
    engine.dispose()
    assert tuple(row) == ("skipped", "no_consent")
    assert smtp.messages == []


def test_a_refused_address_fails_and_a_busy_server_retries_later(
    smtp: FakeSmtpServer, database_url: str
) -> None:
    settings = _settings(database_url, smtp)
    transient, permanent = seed(database_url, 2)
    smtp.reject_data(451)
    _queue(database_url, transient)
    assert _send(database_url, transient, settings) == "retry"
    smtp.reject_data(550)
    _queue(database_url, permanent)
    assert _send(database_url, permanent, settings) == "failed"
    engine = engine_for(database_url)
    with engine.connect() as connection:
        rows = {
            row.id: row
            for row in connection.execute(
                select(Message.id, Message.status, Message.send_at, Message.last_error).where(
                    Message.id.in_([transient, permanent])
                )
            )
        }
    engine.dispose()
    assert rows[transient].status == "pending" and rows[transient].last_error == "smtp-451"
    assert rows[transient].send_at > datetime.now(UTC) + timedelta(seconds=30)
    assert (rows[permanent].status, rows[permanent].last_error) == ("failed", "smtp-550")
