"""Fifty invented demo patients (deterministic, so every demo database looks the same).

Jordan Lee is deliberately absent: in the story the front desk registers Jordan.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import Location
from services.core import clock
from services.patients.models import Patient, PatientConsent

GIVEN = (
    "Maya", "Ethan", "Priya", "Lucas", "Aisha", "Noah", "Sofia", "Mateo", "Olga", "Wei",
    "Fatima", "Liam", "Emma", "Tomás", "Ana", "Grace", "Omar", "Hannah", "Diego", "Leila",
    "Marcus", "Ingrid", "Kofi", "Yuki", "Nadia",
)  # fmt: skip
FAMILY = (
    "Bennett", "Nguyen", "Patel", "Kowalski", "Okonkwo", "Rossi", "Martínez", "Cohen",
    "Silva", "Dubois", "Novak", "Kim", "Johnson", "Brown", "Müller", "Haddad", "Larsen",
    "Moreau", "Tanaka", "Adeyemi",
)  # fmt: skip
CONDITIONS = (("fibromyalgia",), ("migraine",), ("fibromyalgia", "migraine"), ("neck pain",), ())
DEMO_COUNT = 50


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


async def seed_demo_patients(session: AsyncSession, location: Location) -> int:
    """Adds the demo patients when the clinic has none yet; answers how many were added."""
    if await session.scalar(select(func.count()).select_from(Patient)):
        return 0
    patients = []
    for n in range(DEMO_COUNT):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 7) % len(FAMILY)]
        patients.append(
            Patient(
                given_name=given,
                family_name=family,
                date_of_birth=date(1950, 1, 1) + timedelta(days=(n * 523) % 20000),
                phone=f"+1312555{(200 + n):04d}",
                email=f"{_ascii(given).lower()}.{n}@mail.example",
                preferred_channel=("sms", "email", "none")[n % 3],
                time_zone=location.time_zone,
                home_location_id=location.id,
                tags=list(CONDITIONS[n % len(CONDITIONS)]),
            )
        )
    session.add_all(patients)
    await session.flush()
    # Those with a channel agreed to messages on it (signed on the intake form), so the
    # demo's reminders and check-ins reach the outbox folder instead of being skipped.
    session.add_all(
        PatientConsent(
            patient_id=patient.id,
            channel=patient.preferred_channel,
            granted=True,
            method="written",
            recorded_at=clock.utcnow(),
            note="demo",
        )
        for patient in patients
        if patient.preferred_channel != "none"
    )
    await session.flush()
    return DEMO_COUNT
