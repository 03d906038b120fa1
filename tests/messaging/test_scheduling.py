"""Outbox rows are written with their cause: booking, reschedule, cancel, waitlist offer."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment, WaitlistEntry
from services.clinic.models import MessageSettings
from services.core.settings import Settings
from services.messaging.models import Message, MessageEvent
from services.messaging.schedule import appointment_booked
from tests.appointments.conftest import ZONE, Clinic, at, booked
from tests.messaging.support import messages_of, reachable, send_now

MONDAY_10 = time(10)


def local(instant: datetime) -> datetime:
    return instant.astimezone(ZONE).replace(tzinfo=None)


async def test_booking_writes_a_confirmation_and_a_reminder_per_offset(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))

    rows = await messages_of(session, made["id"])
    assert [(m.kind, m.offset_minutes, m.status, m.channel) for m in rows] == [
        ("confirmation", None, "pending", "sms"),
        ("reminder", 120, "pending", "sms"),
        ("reminder", 2880, "pending", "sms"),
    ]
    confirmation, two_hours, two_days = rows
    monday = datetime.combine(clinic.monday, MONDAY_10)
    assert local(two_hours.send_at) == monday - timedelta(hours=2)  # 08:00, quiet hours end
    assert local(two_days.send_at) == monday - timedelta(hours=48)
    assert confirmation.send_at <= datetime.now(UTC) + timedelta(hours=12)
    events = await session.scalars(
        select(MessageEvent.status).where(MessageEvent.message_id == two_hours.id)
    )
    assert list(events) == ["pending"]


async def test_a_reminder_in_quiet_hours_goes_the_evening_before(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))

    two_hours = next(m for m in await messages_of(session, made["id"]) if m.offset_minutes == 120)
    # 07:00 is inside the default quiet hours 21:00-08:00: the last minute before them.
    sunday = datetime.combine(clinic.monday - timedelta(days=1), time(20, 59))
    assert local(two_hours.send_at) == sunday


async def test_consent_and_channel_are_judged_when_the_message_is_sent(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
) -> None:
    outbox = settings.model_copy(update={"data_dir": tmp_path, "quiet_hours": "03:00-03:01"})
    later = clinic.patients[1]
    later.preferred_channel, later.email = "email", "later@example.com"
    await session.flush()
    made = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "10:00"), patient_id=str(later.id))
    )
    rows = await messages_of(session, made["id"])
    assert {(m.status, m.reason) for m in rows} == {("pending", None)}
    # Consent recorded after the booking (a care plan booked at the first visit) counts.
    consent = await client.post(
        f"/api/v1/patients/{later.id}/consents",
        json={"channel": "email", "granted": True, "method": "written"},
        headers=clinic.desk.headers,
    )
    assert consent.status_code == 201, consent.text
    assert await send_now(session, rows[0], outbox) == "sent"

    silent = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "11:00"), patient_id=str(clinic.patients[2].id)),
    )
    [first, *_] = await messages_of(session, silent["id"])
    assert await send_now(session, first, outbox) == "skipped"
    assert (first.status, first.reason) == ("skipped", "no_channel")

    unconsented = clinic.patients[3]
    unconsented.preferred_channel, unconsented.phone = "sms", "+13125550199"
    await session.flush()
    nope = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "12:00"), patient_id=str(unconsented.id)),
    )
    [first, *_] = await messages_of(session, nope["id"])
    assert await send_now(session, first, outbox) == "skipped"
    assert (first.status, first.reason) == ("skipped", "no_consent")


async def test_reschedule_moves_waiting_reminders_and_confirms_the_new_time(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    before = {m.offset_minutes: m.id for m in await messages_of(session, made["id"])}

    tuesday = clinic.monday + timedelta(days=1)
    moved = await client.post(
        f"/api/v1/appointments/{made['id']}/reschedule",
        json={"starts_at": at(tuesday, "14:00")},
        headers=clinic.desk.headers,
    )
    assert moved.status_code == 201, moved.text
    new = await messages_of(session, moved.json()["id"])
    reminders = {m.offset_minutes: m for m in new if m.kind == "reminder"}
    # The same rows, now about the new visit, at the new times.
    assert {o: m.id for o, m in reminders.items()} == {o: before[o] for o in (120, 2880)}
    assert local(reminders[120].send_at) == datetime.combine(tuesday, time(12))
    assert local(reminders[2880].send_at) == datetime.combine(tuesday - timedelta(days=2), time(14))
    assert [m.status for m in new if m.kind == "confirmation"] == ["pending"]
    old = await messages_of(session, made["id"])
    assert [(m.kind, m.status, m.reason) for m in old] == [
        ("confirmation", "cancelled", "rescheduled")
    ]


async def test_cancel_cancels_waiting_messages_and_notifies_only_a_told_patient(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    quiet = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    told = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "14:00")))
    confirmation = next(
        m for m in await messages_of(session, told["id"]) if m.kind == "confirmation"
    )
    confirmation.status, confirmation.sent_at = "sent", datetime.now(UTC)
    await session.flush()

    for made in (quiet, told):
        response = await client.post(
            f"/api/v1/appointments/{made['id']}/cancel",
            json={"reason": "illness"},
            headers=clinic.desk.headers,
        )
        assert response.status_code == 200, response.text

    assert {(m.kind, m.status) for m in await messages_of(session, quiet["id"])} == {
        ("confirmation", "cancelled"),
        ("reminder", "cancelled"),
    }
    assert sorted((m.kind, m.status) for m in await messages_of(session, told["id"])) == [
        ("cancellation", "pending"),
        ("confirmation", "sent"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
    ]


async def test_writing_twice_never_makes_a_second_row(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, settings: Settings
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    appointment = await session.get_one(Appointment, made["id"])
    await appointment_booked(session, appointment, settings)
    assert len(await messages_of(session, made["id"])) == 3


async def test_a_reminder_already_past_at_booking_is_skipped(
    clinic: Clinic, session: AsyncSession, settings: Settings
) -> None:
    patient = await reachable(session, clinic.patients[0])
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    # Quiet hours far from now, whatever time the test runs.
    quiet_start = (soon + timedelta(hours=8)).astimezone(ZONE).time().replace(second=0)
    quiet_end = (soon + timedelta(hours=9)).astimezone(ZONE).time().replace(second=0)
    session.add(
        MessageSettings(
            location_id=clinic.location.id, quiet_start=quiet_start, quiet_end=quiet_end
        )
    )
    appointment = Appointment(
        patient_id=patient.id,
        practitioner_id=clinic.dr_a.id,
        location_id=clinic.location.id,
        appointment_type_id=clinic.adjustment.id,
        starts_at=soon,
        ends_at=soon + timedelta(minutes=30),
        held_from=soon,
        held_until=soon + timedelta(minutes=30),
    )
    session.add(appointment)
    await session.flush()
    await appointment_booked(session, appointment, settings)

    rows = {(m.kind, m.offset_minutes): m for m in await messages_of(session, appointment.id)}
    assert (rows["reminder", 2880].status, rows["reminder", 2880].reason) == ("skipped", "too_late")
    assert rows["reminder", 120].status == "pending"
    assert rows["reminder", 120].send_at == soon - timedelta(hours=2)


async def test_a_series_sends_one_confirmation(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    response = await client.post(
        "/api/v1/appointment-series",
        json={
            "patient_id": str(clinic.patients[0].id),
            "practitioner_id": str(clinic.dr_a.id),
            "appointment_type_id": str(clinic.adjustment.id),
            "start_date": clinic.monday.isoformat(),
            "weeks": 2,
            "weekdays": [0, 2, 4],
            "time": "09:00",
            "mode": "all_or_nothing",
        },
        headers=clinic.chiro.headers,
    )
    assert response.status_code == 201, response.text
    kinds = list(
        await session.scalars(
            select(Message.kind).where(Message.patient_id == clinic.patients[0].id)
        )
    )
    assert kinds.count("confirmation") == 1
    assert kinds.count("reminder") == 12


async def test_a_waitlist_offer_goes_through_the_outbox(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    waiting = await reachable(session, clinic.patients[1])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    entry = WaitlistEntry(
        patient_id=waiting.id,
        practitioner_id=clinic.dr_a.id,
        earliest_date=clinic.monday,
        latest_date=clinic.monday,
    )
    session.add(entry)
    await session.flush()

    response = await client.post(
        f"/api/v1/appointments/{made['id']}/cancel",
        json={"reason": "illness"},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200, response.text
    offers = [m for m in await messages_of(session, made["id"]) if m.kind == "waitlist_offer"]
    assert [(m.patient_id, m.status) for m in offers] == [(waiting.id, "pending")]


async def test_metrics_count_final_messages_and_show_the_due_lag(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    rows = await messages_of(session, made["id"])
    rows[0].status, rows[0].sent_at = "sent", datetime.now(UTC)
    rows[1].send_at = datetime.now(UTC) - timedelta(minutes=5)
    await session.flush()

    text = (await client.get("/metrics")).text
    assert 'clinic_messages_total{channel="sms",kind="confirmation",status="sent"} 1.0' in text
    lag = next(
        line for line in text.splitlines() if line.startswith("clinic_messages_due_lag_seconds ")
    )
    assert 290 <= float(lag.split()[1]) < 400
