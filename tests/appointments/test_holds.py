"""Holds: a time kept for someone booking online, inside the same exclusion constraints as
a booking, that becomes a booking or is deleted."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import booking, holds
from services.appointments.models import Appointment, StatusChange, WaitlistEntry
from services.core import clock
from services.core.errors import Conflict, Gone
from services.messaging.models import Message
from tests.appointments.conftest import Clinic, at, book, booked
from tests.appointments.test_availability import local_times, one_day, slots
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory

HOLD = timedelta(minutes=10)


def spot(clinic: Clinic, starts_at: str) -> booking.Place:
    return booking.Place(
        patient_id=None,
        practitioner=clinic.dr_a,
        location=clinic.location,
        kind=clinic.adjustment,
        starts_at=datetime.fromisoformat(starts_at).astimezone(UTC),
        source="online",
    )


async def held(
    session: AsyncSession, clinic: Clinic, starts_at: str, *, left: timedelta = HOLD
) -> Appointment:
    now = clock.utcnow()
    return await booking.hold(session, spot(clinic, starts_at), until=now + left, now=now)


async def test_a_hold_keeps_the_time_from_the_front_desk_and_stays_out_of_sight(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    ten = at(clinic.monday, "10:00")
    hold = await held(session, clinic, ten)
    assert (hold.status, hold.patient_id, hold.source) == ("held", None, "online")
    assert hold.room_id is not None  # a room is kept too
    refused = await book(client, clinic.desk, clinic.body(ten))
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["conflict"] == "practitioner"
    assert "held for someone booking online" in problem["detail"]
    assert "clashing_appointment_id" not in problem
    mine = {"practitioner_id": str(clinic.dr_a.id), **one_day(clinic)}
    assert "10:00" not in local_times(await slots(client, clinic, **mine))
    listed = await client.get(
        "/api/v1/appointments",
        params={"practitioner_id": str(clinic.dr_a.id)},
        headers=clinic.desk.headers,
    )
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    missing = await client.get(f"/api/v1/appointments/{hold.id}", headers=clinic.desk.headers)
    assert missing.status_code == 404
    # Dr. B is free at ten: the hold keeps one practitioner and one room, not the clinic.
    assert (
        await book(client, clinic.desk, clinic.body(ten, practitioner_id=str(clinic.dr_b.id)))
    ).status_code == 201


async def test_a_booking_sweeps_an_expired_hold_in_its_way(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    ten = at(clinic.monday, "10:00")
    hold = await held(session, clinic, ten, left=-timedelta(seconds=1))
    created = await booked(client, clinic.desk, clinic.body(ten))
    assert created["source"] == "front_desk"
    assert await session.get(Appointment, hold.id, populate_existing=True) is None


async def test_two_holds_for_one_time_are_refused_like_two_bookings(
    clinic: Clinic, session: AsyncSession
) -> None:
    ten = at(clinic.monday, "10:00")
    await held(session, clinic, ten)
    with pytest.raises(Conflict) as refused:
        await held(session, clinic, at(clinic.monday, "10:15"))
    assert refused.value.extra["conflict"] == "practitioner"


async def test_confirm_makes_the_hold_a_booking_with_its_confirmation(
    clinic: Clinic, session: AsyncSession
) -> None:
    hold = await held(session, clinic, at(clinic.monday, "11:00"))
    patient = clinic.patients[0]
    waiting = WaitlistEntry(
        patient_id=patient.id,
        practitioner_id=clinic.dr_a.id,
        earliest_date=clinic.monday,
        latest_date=clinic.monday + timedelta(days=4),
    )
    session.add(waiting)
    await session.flush()
    row = await holds.confirm(
        session, hold.id, patient.id, now=clock.utcnow(), local_date=clinic.monday
    )
    assert (row.id, row.status, row.patient_id, row.source) == (
        hold.id,
        "booked",
        patient.id,
        "online",
    )
    assert row.hold_expires_at is None
    history = (
        await session.scalars(select(StatusChange).where(StatusChange.appointment_id == row.id))
    ).all()
    assert [(h.from_status, h.to_status) for h in history] == [(None, "booked")]
    kinds = (
        await session.scalars(select(Message.kind).where(Message.appointment_id == row.id))
    ).all()
    assert "confirmation" in kinds and "reminder" in kinds
    # As a front-desk booking does, it closed the waitlist entry it satisfies.
    await session.refresh(waiting)
    assert waiting.status == "booked"


async def test_confirm_refuses_an_expired_or_released_hold_and_a_clashing_patient(
    clinic: Clinic, session: AsyncSession
) -> None:
    expired = await held(session, clinic, at(clinic.monday, "09:00"), left=timedelta(seconds=1))
    later = clock.utcnow() + timedelta(seconds=2)
    with pytest.raises(Gone):
        await holds.confirm(
            session, expired.id, clinic.patients[0].id, now=later, local_date=clinic.monday
        )
    released = await held(session, clinic, at(clinic.monday, "13:00"))
    assert await holds.release(session, released.id)
    assert not await holds.release(session, released.id)
    with pytest.raises(Gone):
        await holds.confirm(
            session,
            released.id,
            clinic.patients[0].id,
            now=clock.utcnow(),
            local_date=clinic.monday,
        )
    # The patient already has a visit with Dr. B at 14:00: a hold with Dr. A then is theirs
    # to keep only if the patient constraint agrees (it does not).
    patient = clinic.patients[1]
    body = clinic.body(at(clinic.monday, "14:00"), practitioner_id=str(clinic.dr_b.id))
    body["patient_id"] = str(patient.id)
    other = booking.Place(
        patient_id=patient.id,
        practitioner=clinic.dr_b,
        location=clinic.location,
        kind=clinic.exam,
        starts_at=datetime.fromisoformat(body["starts_at"]).astimezone(UTC),
    )
    await booking.place(session, other, actor_id=None, now=clock.utcnow())
    clashing = await held(session, clinic, at(clinic.monday, "14:00"))
    with pytest.raises(Conflict) as refused:
        await holds.confirm(
            session, clashing.id, patient.id, now=clock.utcnow(), local_date=clinic.monday
        )
    assert refused.value.extra["conflict"] == "patient"
    # The refusal left the hold as it was, and the transaction usable.
    again = await session.get(Appointment, clashing.id, populate_existing=True)
    assert again is not None and again.status == "held"


async def test_the_sweep_deletes_expired_holds_only(clinic: Clinic, session: AsyncSession) -> None:
    old = await held(session, clinic, at(clinic.monday, "09:00"), left=timedelta(seconds=1))
    fresh = await held(session, clinic, at(clinic.monday, "10:00"))
    swept = await holds.sweep(session, clock.utcnow() + timedelta(seconds=2))
    assert swept == [old.id]
    assert await session.get(Appointment, fresh.id) is not None


async def test_the_database_deletes_nothing_but_holds(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    created = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "15:00")))
    with pytest.raises(DBAPIError, match="never deleted"):
        async with session.begin_nested():
            await session.execute(delete(Appointment).where(Appointment.id == created["id"]))
    count = await session.scalar(
        select(func.count()).select_from(Appointment).where(Appointment.id == created["id"])
    )
    assert count == 1


async def test_a_closed_or_out_of_hours_time_cannot_be_held(
    clinic: Clinic, session: AsyncSession
) -> None:
    evening = datetime.combine(clinic.monday, datetime.min.time(), ZoneInfo("America/Chicago"))
    with pytest.raises(Exception, match="does not work"):
        await held(session, clinic, (evening + timedelta(hours=20)).isoformat())


async def test_a_room_kept_by_a_hold_is_named_without_its_id(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, factory: Factory
) -> None:
    ten = at(clinic.monday, "10:00")
    await held(session, clinic, ten)  # Dr. A and the first room
    await booked(client, clinic.desk, clinic.body(ten, practitioner_id=str(clinic.dr_b.id)))
    setup = ClinicFactory(factory)
    third = await setup.practitioner(clinic.location)
    await setup.hours(third, clinic.location, range(5), time(8), time(17))
    refused = await book(client, clinic.desk, clinic.body(ten, practitioner_id=str(third.id)))
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["conflict"] == "room"
    ids = {room["clashing_appointment_id"] for room in problem["rooms"]}
    assert None in ids and len(ids) == 2  # the hold's room names no appointment
