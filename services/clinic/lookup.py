"""Small reads scheduling needs: rooms, and which practitioners work where."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import (
    AppointmentType,
    Location,
    Practitioner,
    PractitionerLocation,
    Room,
)


async def rooms_of_kind(
    session: AsyncSession, location_id: uuid.UUID, kind: str
) -> list[uuid.UUID]:
    """Active rooms of ``kind`` at the location, in name order (the order rooms are chosen)."""
    rows = await session.scalars(
        select(Room.id)
        .where(Room.location_id == location_id, Room.kind == kind, Room.is_active.is_(True))
        .order_by(Room.name, Room.id)
    )
    return list(rows)


async def get_room(session: AsyncSession, room_id: uuid.UUID) -> Room | None:
    return await session.get(Room, room_id)


async def practitioners_at(session: AsyncSession, location_id: uuid.UUID) -> Sequence[Practitioner]:
    """Active practitioners who work at the location, by name."""
    query = (
        select(Practitioner)
        .join(PractitionerLocation, PractitionerLocation.practitioner_id == Practitioner.id)
        .where(PractitionerLocation.location_id == location_id, Practitioner.is_active.is_(True))
        .order_by(Practitioner.display_name, Practitioner.id)
    )
    return (await session.scalars(query)).all()


async def works_at(session: AsyncSession, practitioner_id: uuid.UUID) -> list[uuid.UUID]:
    """The locations a practitioner works at."""
    rows = await session.scalars(
        select(PractitionerLocation.location_id)
        .where(PractitionerLocation.practitioner_id == practitioner_id)
        .order_by(PractitionerLocation.location_id)
    )
    return list(rows)


def _booking_setup(one_location: bool) -> Select[Practitioner, AppointmentType, Location]:
    query = (
        select(Practitioner, AppointmentType, Location)
        .select_from(Practitioner)
        # A lookup by key, not a relation.
        .join(AppointmentType, AppointmentType.id == bindparam("type_id"))
        .join(PractitionerLocation, PractitionerLocation.practitioner_id == Practitioner.id)
        .join(Location, Location.id == PractitionerLocation.location_id)
        .where(Practitioner.id == bindparam("practitioner_id"))
        .order_by(Location.id)
    )
    return query.where(Location.id == bindparam("location_id")) if one_location else query


# Built once: constructing a statement costs more Python than running a cached one.
_SETUP_AT = _booking_setup(one_location=True)
_SETUP_ANYWHERE = _booking_setup(one_location=False)


async def booking_setup(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    type_id: uuid.UUID,
    location_id: uuid.UUID | None,
) -> Sequence[tuple[Practitioner, AppointmentType, Location]]:
    """The practitioner, the type and each location (or the one named) where the
    practitioner works, in one query: the booking path's common case. No rows: one of them
    is unknown, or the practitioner does not work there; the caller looks closer."""
    params = {"practitioner_id": practitioner_id, "type_id": type_id}
    if location_id is None:
        rows = await session.execute(_SETUP_ANYWHERE, params)
    else:
        rows = await session.execute(_SETUP_AT, {**params, "location_id": location_id})
    return [(p, t, loc) for p, t, loc in rows]
