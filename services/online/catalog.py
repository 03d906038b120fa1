"""What the public booking pages may show: the locations that take bookings online, the
types marked bookable there, their practitioners' first names on the schedule, and free
times from the same availability as the API, within each type's notice and reach.

Nothing here names a patient or says why a time is not free.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Need, find_slots
from services.clinic.service import (
    AppointmentType,
    Location,
    Practitioner,
    local_instant,
    practitioners_at,
)
from services.core.errors import NotFound
from services.online.models import OnlineBookingSettings


@dataclass(frozen=True)
class Time:
    starts_at: datetime  # local
    practitioner_id: uuid.UUID


async def open_locations(session: AsyncSession) -> Sequence[Location]:
    """Active locations that take bookings online, by name."""
    query = (
        select(Location)
        .join(OnlineBookingSettings, OnlineBookingSettings.location_id == Location.id)
        .where(OnlineBookingSettings.enabled.is_(True), Location.is_active.is_(True))
        .order_by(Location.name)
    )
    return (await session.scalars(query)).all()


async def open_location(
    session: AsyncSession, location_id: uuid.UUID
) -> tuple[Location, OnlineBookingSettings]:
    """The location and its settings; 404 unless it takes bookings online."""
    row = (
        await session.execute(
            select(Location, OnlineBookingSettings)
            .join(OnlineBookingSettings, OnlineBookingSettings.location_id == Location.id)
            .where(
                Location.id == location_id,
                OnlineBookingSettings.enabled.is_(True),
                Location.is_active.is_(True),
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("This clinic does not take bookings online.")
    return row[0], row[1]


async def bookable_types(session: AsyncSession) -> Sequence[AppointmentType]:
    query = (
        select(AppointmentType)
        .where(AppointmentType.is_active.is_(True), AppointmentType.online_bookable.is_(True))
        .order_by(AppointmentType.name)
    )
    return (await session.scalars(query)).all()


async def bookable_type(session: AsyncSession, type_id: uuid.UUID) -> AppointmentType:
    kind = await session.get(AppointmentType, type_id)
    if kind is None or not (kind.is_active and kind.online_bookable):
        raise NotFound("This visit cannot be booked online.")
    return kind


async def practitioners(session: AsyncSession, location_id: uuid.UUID) -> Sequence[Practitioner]:
    return await practitioners_at(session, location_id)


def reach(kind: AppointmentType, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The UTC window patients may book ``kind`` in: from its notice to the end of the
    last local day of its reach."""
    earliest = now + timedelta(minutes=kind.online_notice_minutes)
    last_day = now.astimezone(zone).date() + timedelta(days=kind.online_days_ahead)
    return earliest, local_instant(last_day + timedelta(days=1), time(0), zone)


GRID = timedelta(minutes=15)  # the starts the pages offer


def on_grid(starts_at: datetime, zone: ZoneInfo) -> bool:
    """A start the pages could have offered: on the local quarter hour, to the second."""
    local = starts_at.astimezone(zone)
    return local.minute % 15 == 0 and local.second == 0 and local.microsecond == 0


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def free_times(
    session: AsyncSession,
    *,
    location: Location,
    kind: AppointmentType,
    practitioner_ids: Sequence[uuid.UUID],
    first_day: date,
    days: int,
    grid: timedelta,
    now: datetime,
) -> list[Time]:
    """Free starts on the local days [first_day, first_day + days), within the type's reach;
    one per start (the first practitioner free then), earliest first."""
    zone = ZoneInfo(location.time_zone)
    low, high = reach(kind, zone, now)
    window = (
        max(local_instant(first_day, time(0), zone), low),
        min(local_instant(first_day + timedelta(days=days), time(0), zone), high),
    )
    found = await find_slots(
        session,
        need=Need.of(kind),
        practitioner_ids=practitioner_ids,
        location_id=location.id,
        zone=zone,
        window=(window[0].astimezone(UTC), window[1].astimezone(UTC)),
        grid=grid,
    )
    times: dict[datetime, Time] = {}
    for slot in found:
        times.setdefault(
            slot.starts_at, Time(slot.starts_at.astimezone(zone), slot.practitioner_id)
        )
    return list(times.values())
