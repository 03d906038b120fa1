"""A small clinic to schedule in: one location, two practitioners working weekdays
08:00-17:00, rooms, appointment types, patients and staff of every role."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import AppointmentType, Location, Practitioner, Room
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.patients.models import Patient
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory, Staff

APPOINTMENTS = "/api/v1/appointments"
ZONE = ZoneInfo("America/Chicago")
_counter = itertools.count(1)


def next_monday(weeks_ahead: int = 2) -> date:
    """A Monday safely in the future, so 'in the past' never bites a test."""
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def at(day: date, hhmm: str) -> str:
    """Local clinic time as ISO 8601 with its offset."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).isoformat()


async def make_patient(session: AsyncSession, *, given: str = "Jordan") -> Patient:
    n = next(_counter)
    patient = Patient(
        given_name=given,
        family_name=f"Lee{n}",
        date_of_birth=date(1985, 1, 1) + timedelta(days=n),
        time_zone="America/Chicago",
    )
    session.add(patient)
    await session.flush()
    await session.refresh(patient)
    return patient


@dataclass
class Clinic:
    location: Location
    dr_a: Practitioner
    dr_b: Practitioner
    adjustment: AppointmentType  # 30 min, no buffers, an adjustment room
    exam: AppointmentType  # 60 min, 10 min after, no room
    rooms: list[Room]
    patients: list[Patient]
    desk: Staff
    chiro: Staff  # dr_a's own account
    admin: Staff
    monday: date

    def body(self, start: str, **overrides: Any) -> dict[str, Any]:
        return {
            "patient_id": str(self.patients[0].id),
            "practitioner_id": str(self.dr_a.id),
            "appointment_type_id": str(self.adjustment.id),
            "starts_at": start,
            **overrides,
        }


@pytest.fixture
async def clinic(factory: Factory, session: AsyncSession) -> Clinic:
    setup = ClinicFactory(factory)
    location = await setup.location(time_zone="America/Chicago")
    dr_a = await setup.practitioner(location, name="Dr. Ada Atlas")
    dr_b = await setup.practitioner(location, name="Dr. Ben Axis")
    for practitioner in (dr_a, dr_b):
        await setup.hours(practitioner, location, range(5), time(8), time(17))
    rooms = [Room(location_id=location.id, name=f"Adjust {n}", kind="adjustment") for n in (1, 2)]
    session.add_all(rooms)
    adjustment = AppointmentType(
        name=f"Adjustment {next(_counter)}",
        duration_minutes=30,
        room_kind="adjustment",
        colour="#336699",
    )
    exam = AppointmentType(
        name=f"New patient exam {next(_counter)}",
        duration_minutes=60,
        buffer_after_minutes=10,
        is_new_patient=True,
        colour="#993366",
    )
    session.add_all([adjustment, exam])
    await session.flush()
    patients = [await make_patient(session) for _ in range(4)]
    user = await session.get(User, dr_a.user_id)
    assert user is not None
    chiro = Staff(user=user, token=await factory.token_for(user))
    return Clinic(
        location=location,
        dr_a=dr_a,
        dr_b=dr_b,
        adjustment=adjustment,
        exam=exam,
        rooms=rooms,
        patients=patients,
        desk=await factory.staff(Role.front_desk),
        chiro=chiro,
        admin=await factory.staff(Role.admin),
        monday=next_monday(),
    )


async def book(
    client: httpx.AsyncClient, staff: Staff, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(APPOINTMENTS, json=body, headers={**staff.headers, **headers})


async def booked(client: httpx.AsyncClient, staff: Staff, body: dict[str, Any]) -> dict[str, Any]:
    response = await book(client, staff, body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer
