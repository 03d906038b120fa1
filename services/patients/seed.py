"""Fifty invented demo patients (deterministic, so every demo database looks the same).

Jordan Lee is deliberately absent: in the story the front desk registers Jordan.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import Location
from services.patients.models import Patient

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
    for n in range(DEMO_COUNT):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 7) % len(FAMILY)]
        session.add(
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
    await session.flush()
    return DEMO_COUNT
