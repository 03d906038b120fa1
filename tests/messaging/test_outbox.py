"""The reaper's limit, the quiet-hours grace, stale waitlist offers, unconfigured channels."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Environment, Settings
from services.messaging.channels import Outgoing, SendFailure
from services.messaging.models import Message
from services.messaging.outbox import reap
from services.messaging.sending import QUIET_GRACE, _just_late
from services.messaging.timing import QuietHours
from tests.appointments.conftest import Clinic, at, booked
from tests.messaging.support import messages_of, reachable, send_now
from workers import channels


async def test_the_reaper_returns_lost_sends_and_fails_one_that_keeps_dying(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    lost, dying, fresh = await messages_of(session, made["id"])
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    for message in (lost, dying, fresh):
        message.status, message.queued_at = "queued", long_ago
    fresh.queued_at = datetime.now(UTC)
    dying.attempts = 7
    await session.flush()

    returned = await session.run_sync(
        lambda sync: reap(
            sync,
            datetime.now(UTC),
            queued_for=timedelta(minutes=10),
            sending_for=timedelta(minutes=10),
            max_attempts=8,
        )
    )

    assert set(returned) == {lost.id, dying.id}
    rows = {m.id: m for m in await messages_of(session, made["id"])}
    assert (rows[lost.id].status, rows[lost.id].attempts) == ("pending", 1)
    assert (rows[dying.id].status, rows[dying.id].reason) == ("failed", "lost")
    assert rows[fresh.id].status == "queued"  # still within its time


def test_a_send_reached_just_after_quiet_hours_began_still_goes() -> None:
    quiet = QuietHours(time(21), time(8), ZoneInfo("America/Chicago"))
    began = datetime(2027, 3, 15, 21, tzinfo=ZoneInfo("America/Chicago"))
    due_before = Message(send_at=began - timedelta(minutes=1))
    assert _just_late(due_before, quiet, began + timedelta(minutes=10))
    assert not _just_late(due_before, quiet, began + QUIET_GRACE + timedelta(minutes=1))
    due_inside = Message(send_at=began + timedelta(minutes=5))  # retried into quiet hours
    assert not _just_late(due_inside, quiet, began + timedelta(minutes=10))


async def test_a_waitlist_offer_for_a_slot_taken_meanwhile_is_not_sent(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    settings: Settings,
    tmp_path: object,
) -> None:
    from services.appointments.models import WaitlistEntry

    waiting = await reachable(session, clinic.patients[1])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    session.add(
        WaitlistEntry(
            patient_id=waiting.id,
            practitioner_id=clinic.dr_a.id,
            earliest_date=clinic.monday,
            latest_date=clinic.monday,
        )
    )
    await session.flush()
    cancel = await client.post(
        f"/api/v1/appointments/{made['id']}/cancel",
        json={"reason": "illness"},
        headers=clinic.desk.headers,
    )
    assert cancel.status_code == 200, cancel.text
    # The desk books someone else into the freed time before the offer goes out.
    await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "10:00"), patient_id=str(clinic.patients[2].id)),
    )
    offer = await session.scalar(
        select(Message).where(
            Message.appointment_id == uuid.UUID(made["id"]), Message.kind == "waitlist_offer"
        )
    )
    assert offer is not None
    quiet = settings.model_copy(update={"data_dir": tmp_path, "quiet_hours": "03:00-03:01"})
    assert await send_now(session, offer, quiet) == "skipped"
    assert offer.reason == "slot_taken"


def test_production_never_writes_messages_to_a_file(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.production, "smtp_host": None})
    outgoing = Outgoing(uuid.uuid4(), "email", "a@example.com", "Subject", "Body", "Clinic")
    with pytest.raises(SendFailure) as failure:
        channels.send(outgoing, production)
    assert (failure.value.code, failure.value.permanent) == ("email-not-configured", False)
