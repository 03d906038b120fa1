"""The demo clinic's check-in policies: an x-ray review corrects nothing, so no check-in
follows it; every other type keeps the default (docs/architecture.md, *Check-ins*)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import CheckinPolicy
from services.clinic.service import AppointmentType

NO_CHECKIN_TYPES = ("X-ray review",)


async def seed_checkin_policies(session: AsyncSession) -> list[str]:
    """Adds the missing policies (an admin's own row for a type is left alone)."""
    added: list[str] = []
    for name in NO_CHECKIN_TYPES:
        type_id = await session.scalar(
            select(AppointmentType.id).where(AppointmentType.name == name)
        )
        if type_id is None:
            continue
        existing = select(CheckinPolicy.id).where(
            CheckinPolicy.appointment_type_id == type_id, CheckinPolicy.location_id.is_(None)
        )
        if await session.scalar(existing) is None:
            session.add(
                CheckinPolicy(
                    appointment_type_id=type_id, after_visit_hours=None, weekly_in_series=False
                )
            )
            added.append(f"check-in policy {name}")
    await session.flush()
    return added
