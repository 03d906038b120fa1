"""The demo clinic of "A day at the clinic", seeded by ``clinic dev`` on an empty database.

It spans every domain, so it lives at the composition root, next to the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.seed import seed_demo_appointments
from services.checkins.seed import seed_checkin_policies
from services.clinic.seed import seed_clinic
from services.clinic.service import default_location
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.core.auth.schemas import UserCreate
from services.core.auth.users import create_user
from services.online.settings import seed_demo_online_booking
from services.patients.seed import seed_demo_patients

# Invented people of "A day at the clinic" (the design story): The Balanced Atlas, Chicago.
DEMO_STAFF: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("maria@balanced-atlas.example", "Maria Lopez", (Role.admin,)),
    ("sam@balanced-atlas.example", "Sam Carter", (Role.front_desk,)),
    ("reyes@balanced-atlas.example", "Dr. Ana Reyes", (Role.chiropractor,)),
    ("okafor@balanced-atlas.example", "Dr. Chidi Okafor", (Role.chiropractor,)),
)


@dataclass
class DemoSeed:
    """What one run of ``seed_demo`` added (everything it adds is only added when missing)."""

    staff: list[str] = field(default_factory=list)
    clinic: list[str] = field(default_factory=list)
    patients: int = 0
    appointments: int = 0

    def summary(self) -> str:
        parts = [*self.staff, *self.clinic]
        if self.patients:
            parts.append(f"{self.patients} patients")
        if self.appointments:
            parts.append(f"{self.appointments} appointments")
        return ", ".join(parts) or "nothing (the demo clinic is complete)"


async def seed_demo(session: AsyncSession, password: str) -> DemoSeed:
    """The demo clinic: its staff (existing addresses are left alone), then its location,
    rooms, practitioners, hours, appointment types, message settings and online booking
    (the consultation bookable at /book), then fifty
    patients when the clinic has none, then a week of follow-up visits when it has none."""
    seeded = DemoSeed()
    for email, name, roles in DEMO_STAFF:
        if await session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        await create_user(
            session,
            UserCreate(email=email, full_name=name, password=password, roles=list(roles)),
            actor=None,
            client=None,
        )
        seeded.staff.append(email)
    seeded.clinic = await seed_clinic(session)
    seeded.clinic += await seed_checkin_policies(session)
    location = await default_location(session)
    if location is not None:
        seeded.clinic += await seed_demo_online_booking(session, location.id)
        seeded.patients = await seed_demo_patients(session, location)
        seeded.appointments = await seed_demo_appointments(session, location)
    return seeded
