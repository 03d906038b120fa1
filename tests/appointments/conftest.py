"""Scheduling fixtures.

``clinic``: one location, two practitioners working weekdays 08:00-17:00, two adjustment
rooms, two appointment types, patients and staff of every role, for tests through the API.
``scheduling``: a smaller set, with helpers that write appointments straight through the ORM
(no audit rows, no booking rules) for tests of what reads them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.clinic.models import AppointmentType, Location, Practitioner, Room
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.patients.models import Patient
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory, Staff

_counter = itertools.count(1)


async def add_patient(
    session: AsyncSession,
    given_name: str = "Jordan",
    family_name: str | None = None,
    *,
    time_zone: str = "America/Chicago",
) -> Patient:
    patient = Patient(
        given_name=given_name,
        family_name=family_name or f"Lee{next(_counter)}",
        date_of_birth=date(1987, 3, 14),
        time_zone=time_zone,
    )
    session.add(patient)
    await session.flush()
    await session.refresh(patient)
    return patient


@dataclass
class Scheduling:
    session: AsyncSession
    location: Location
    practitioner: Practitioner
    doctor: Staff  # the practitioner's own user, signed in
    appointment_type: AppointmentType
    patient: Patient

    async def appointment(
        self,
        starts_at: datetime,
        *,
        minutes: int = 30,
        status: str = "booked",
        patient: Patient | None = None,
        practitioner: Practitioner | None = None,
        appointment_type: AppointmentType | None = None,
        note: str | None = None,
    ) -> Appointment:
        """An appointment row without buffers; a cancelled one gets a cancel reason."""
        ends_at = starts_at + timedelta(minutes=minutes)
        appointment = Appointment(
            patient_id=(patient or self.patient).id,
            practitioner_id=(practitioner or self.practitioner).id,
            location_id=self.location.id,
            appointment_type_id=(appointment_type or self.appointment_type).id,
            starts_at=starts_at,
            ends_at=ends_at,
            held_from=starts_at,
            held_until=ends_at,
            status=status,
            cancel_reason="patient" if status == "cancelled" else None,
            note=note,
        )
        self.session.add(appointment)
        await self.session.flush()
        await self.session.refresh(appointment)
        return appointment


async def make_scheduling(factory: Factory) -> Scheduling:
    session = factory.session
    clinic = ClinicFactory(factory)
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    user = await session.get(User, practitioner.user_id)
    assert user is not None and Role.chiropractor.value in user.roles
    return Scheduling(
        session=session,
        location=location,
        practitioner=practitioner,
        doctor=Staff(user=user, token=await factory.token_for(user)),
        appointment_type=await clinic.appointment_type(),
        patient=await add_patient(session),
    )


@pytest.fixture
async def scheduling(factory: Factory) -> Scheduling:
    return await make_scheduling(factory)


APPOINTMENTS = "/api/v1/appointments"
ZONE = ZoneInfo("America/Chicago")


def next_monday(weeks_ahead: int = 2) -> date:
    """A Monday safely in the future, so 'in the past' never bites a test."""
    today = date.today()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def at(day: date, hhmm: str) -> str:
    """Local clinic time as ISO 8601 with its offset."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).isoformat()


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
    patients = [await add_patient(session) for _ in range(4)]
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
