"""Small factories for clinic setup, written straight to the database (no audit rows)."""

from __future__ import annotations

import itertools
import uuid
from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import (
    AppointmentType,
    Location,
    Practitioner,
    PractitionerLocation,
    WorkingHours,
)
from services.core.auth.roles import Role
from tests.factories import Factory

_counter = itertools.count(1)


class ClinicFactory:
    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self.session: AsyncSession = factory.session

    async def location(
        self, *, name: str | None = None, time_zone: str = "America/Chicago", active: bool = True
    ) -> Location:
        location = Location(
            name=name or f"Location {next(_counter)}-{uuid.uuid4().hex[:6]}",
            time_zone=time_zone,
            is_active=active,
        )
        self.session.add(location)
        await self.session.flush()
        await self.session.refresh(location)
        return location

    async def practitioner(self, *locations: Location, name: str | None = None) -> Practitioner:
        user = await self.factory.user(Role.chiropractor)
        practitioner = Practitioner(
            user_id=user.id, display_name=name or f"Dr. {user.full_name}", credentials="DC"
        )
        self.session.add(practitioner)
        await self.session.flush()
        await self.session.refresh(practitioner)
        for location in locations:
            self.session.add(
                PractitionerLocation(practitioner_id=practitioner.id, location_id=location.id)
            )
        await self.session.flush()
        return practitioner

    async def hours(
        self,
        practitioner: Practitioner,
        location: Location,
        weekdays: range | list[int],
        start: time,
        end: time,
    ) -> None:
        for weekday in weekdays:
            self.session.add(
                WorkingHours(
                    practitioner_id=practitioner.id,
                    location_id=location.id,
                    weekday=weekday,
                    start_time=start,
                    end_time=end,
                )
            )
        await self.session.flush()

    async def appointment_type(self, *, name: str | None = None) -> AppointmentType:
        created = AppointmentType(
            name=name or f"Type {next(_counter)}-{uuid.uuid4().hex[:6]}",
            duration_minutes=30,
            colour="#112233",
        )
        self.session.add(created)
        await self.session.flush()
        await self.session.refresh(created)
        return created
