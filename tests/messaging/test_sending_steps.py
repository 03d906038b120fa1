"""The send's three steps one at a time (claim and check, deliver, record), and what may
happen between them: a cancel while the text is on its way, the reaper taking over a send
whose worker died, a late outcome of the attempt it replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Settings
from services.messaging.channels import SendFailure
from services.messaging.models import Message, MessageEvent, MessageLink
from services.messaging.outbox import reap
from services.messaging.sending import Attempt, begin, record
from tests.appointments.conftest import Clinic, at, booked
from tests.messaging.outbox_world import quiet_hours_away_from_now
from tests.messaging.support import messages_of, reachable, send_now


@pytest.fixture
def outbox(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"data_dir": tmp_path, "quiet_hours": quiet_hours_away_from_now()}
    )


async def _begun(session: AsyncSession, message: Message, settings: Settings) -> Attempt:
    """Step 1 for ``message``, as a worker runs it (the test's transaction stays open)."""
    message.status, message.queued_at = "queued", datetime.now(UTC)
    await session.flush()
    begun = await session.run_sync(
        lambda sync: begin(sync, message.id, settings, datetime.now(UTC))
    )
    assert isinstance(begun, Attempt), begun
    await session.flush()  # where the worker commits
    return begun


async def _booked_with_confirmation(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> tuple[dict[str, Any], Message]:
    """Monday 10:00 booked for a reachable patient, and its confirmation message."""
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    confirmation = next(
        m for m in await messages_of(session, made["id"]) if m.kind == "confirmation"
    )
    return made, confirmation


async def _record(
    session: AsyncSession, attempt: Attempt, result: str | SendFailure, settings: Settings
) -> str:
    outcome = await session.run_sync(
        lambda sync: record(sync, attempt, result, settings, datetime.now(UTC))
    )
    await session.flush()  # where the worker commits
    return outcome


async def _reap(session: AsyncSession, *, sending_for: timedelta) -> list[object]:
    return await session.run_sync(
        lambda sync: list(
            reap(
                sync,
                datetime.now(UTC),
                queued_for=timedelta(minutes=10),
                sending_for=sending_for,
                max_attempts=8,
            )
        )
    )


async def test_a_cancel_while_a_text_is_on_its_way_leaves_it_and_sends_a_notice(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    made, confirmation = await _booked_with_confirmation(client, clinic, session)
    attempt = await _begun(session, confirmation, outbox)
    assert (confirmation.status, confirmation.attempts) == ("sending", 1)
    assert confirmation.sending_since is not None and confirmation.queued_at is None
    links = await session.scalars(
        select(MessageLink).where(MessageLink.message_id == confirmation.id)
    )
    assert len(list(links)) == 1  # rendered with its link before the wait

    # The desk cancels while the provider has not answered yet.
    response = await client.post(
        f"/api/v1/appointments/{made['id']}/cancel",
        json={"reason": "illness"},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200, response.text
    assert sorted((m.kind, m.status) for m in await messages_of(session, made["id"])) == [
        ("cancellation", "pending"),  # the patient will have the confirmation: tell them
        ("confirmation", "sending"),  # past recall, left to its outcome
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
    ]

    assert await _record(session, attempt, "SM-provider-1", outbox) == "sent"
    await session.refresh(confirmation)
    assert (confirmation.status, confirmation.provider_id) == ("sent", "SM-provider-1")
    assert confirmation.sending_since is None
    events = await session.scalars(
        select(MessageEvent.status)
        .where(MessageEvent.message_id == confirmation.id)
        .order_by(MessageEvent.id)
    )
    assert list(events) == ["pending", "queued", "sending", "sent"]


async def test_the_reaper_resends_a_stale_send_and_drops_the_late_outcome_of_the_old_one(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    stale, live, last = await messages_of(session, made["id"])
    old_attempt = await _begun(session, stale, outbox)
    await _begun(session, live, outbox)
    await _begun(session, last, outbox)
    last.attempts = 8
    stale.sending_since = last.sending_since = datetime.now(UTC) - timedelta(minutes=11)
    await session.flush()

    returned = await _reap(session, sending_for=timedelta(minutes=10))

    assert set(returned) == {stale.id, last.id}
    rows = {m.id: m for m in await messages_of(session, made["id"])}
    # The attempt was counted when it began: the return adds none.
    assert (rows[stale.id].status, rows[stale.id].attempts) == ("pending", 1)
    assert rows[stale.id].sending_since is None
    assert (rows[last.id].status, rows[last.id].reason) == ("failed", "lost")
    assert rows[live.id].status == "sending"  # still within its time

    # The first worker was only slow: its outcome comes after the reaper took the row.
    assert await _record(session, old_attempt, "SM-late", outbox) == "superseded"
    await session.refresh(stale)
    assert (stale.status, stale.provider_id) == ("pending", None)

    # The resend: checked again, a new attempt, the same row id (Message-ID, file name).
    assert await send_now(session, stale, outbox) == "sent"
    await session.refresh(stale)
    assert (stale.status, stale.attempts) == ("sent", 2)
    assert (outbox.outbox_dir / f"{stale.id}.txt").exists()
    # A late outcome of the first attempt cannot overwrite the second's either.
    assert await _record(
        session, old_attempt, SendFailure("smtp-451", permanent=False), outbox
    ) == ("superseded")
    await session.refresh(stale)
    assert (stale.status, stale.last_error) == ("sent", None)


async def test_a_transient_failure_after_the_wait_goes_back_to_pending(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    _, confirmation = await _booked_with_confirmation(client, clinic, session)
    attempt = await _begun(session, confirmation, outbox)

    failure = SendFailure("TimeoutError", permanent=False)
    assert await _record(session, attempt, failure, outbox) == "retry"
    await session.refresh(confirmation)
    assert (confirmation.status, confirmation.last_error) == ("pending", "TimeoutError")
    assert confirmation.sending_since is None
    assert confirmation.send_at > datetime.now(UTC) + timedelta(seconds=30)
