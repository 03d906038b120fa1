"""Check-ins in known states for the tests: a completed visit, a check-in planned after
it, or one whose invitation went out with a link of known token."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.checkins.models import Checkin
from services.core.settings import Settings
from services.messaging.models import Message
from services.patients.models import Patient
from tests.appointments.conftest import Clinic
from tests.messaging.support import add_link, visit_at


async def completed_visit(
    session: AsyncSession, settings: Settings, *, hours_ago: float = 2
) -> Appointment:
    """Jordan's visit that ended ``hours_ago``, completed, at a new clinic."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago, minutes=30)
    return await visit_at(session, settings, start, status="completed")


_earlier = itertools.count(1)


async def complete(client: httpx.AsyncClient, clinic: Clinic, appointment_id: str) -> None:
    """The front desk checks the patient in, Dr. A starts and completes the visit."""
    path = f"/api/v1/appointments/{appointment_id}"
    for step, who in (
        ("check-in", clinic.desk),
        ("start", clinic.chiro),
        ("complete", clinic.chiro),
    ):
        answer = await client.post(f"{path}/{step}", headers=who.headers)
        assert answer.status_code == 200, answer.text


async def visit_of(session: AsyncSession, clinic: Clinic, patient: Patient) -> Appointment:
    """A completed adjustment of ``patient`` with ``clinic``'s Dr. A, in a past hour no
    other visit made here holds."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=next(_earlier))
    appointment = Appointment(
        patient_id=patient.id,
        practitioner_id=clinic.dr_a.id,
        location_id=clinic.location.id,
        appointment_type_id=clinic.adjustment.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        held_from=start,
        held_until=start + timedelta(minutes=30),
        status="completed",
    )
    session.add(appointment)
    await session.flush()
    return appointment


async def new_checkin(session: AsyncSession, appointment: Appointment, **values: Any) -> Checkin:
    """A check-in after ``appointment`` (scheduled a day later unless ``values`` say)."""
    defaults: dict[str, Any] = {
        "kind": "after_visit",
        "questionnaire_key": "post_visit",
        "questionnaire_version": 1,
        "due_at": appointment.ends_at + timedelta(days=1),
    }
    checkin = Checkin(
        patient_id=appointment.patient_id, appointment_id=appointment.id, **(defaults | values)
    )
    session.add(checkin)
    await session.flush()
    return checkin


async def invitation(
    session: AsyncSession, visit: Appointment, checkin: Checkin, **values: Any
) -> Message:
    """The check-in's invitation in the outbox, by SMS, due when the check-in is (pending
    unless ``values`` say)."""
    message = Message(
        kind="checkin",
        patient_id=visit.patient_id,
        appointment_id=visit.id,
        checkin_id=checkin.id,
        location_id=visit.location_id,
        channel="sms",
        send_at=checkin.due_at,
        **values,
    )
    session.add(message)
    await session.flush()
    return message


async def sent_checkin(
    session: AsyncSession,
    settings: Settings,
    *,
    expires_in: timedelta = timedelta(hours=72),
    appointment: Appointment | None = None,
) -> tuple[Checkin, str]:
    """A check-in whose invitation went out by SMS just now, as the sender leaves it (check-in
    ``sent``, message ``sent``, one link); answers it and the link's token. Not committed."""
    visit = appointment or await completed_visit(session, settings)
    now = datetime.now(UTC)
    checkin = await new_checkin(
        session,
        visit,
        due_at=now,
        status="sent",
        sent_at=now,
        expires_at=now + expires_in,
    )
    message = await invitation(session, visit, checkin, status="sent", sent_at=now)
    return checkin, await add_link(session, settings, message, now + expires_in)
