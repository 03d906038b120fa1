"""Scheduling fixtures: a location, a practitioner (whose user can sign in), an appointment
type and a patient, plus helpers that write patients and appointments straight through the
ORM (no audit rows, no booking rules)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.clinic.models import AppointmentType, Location, Practitioner
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
