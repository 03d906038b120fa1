"""Locations and their rooms."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import Location, Room
from services.clinic.schemas import LocationCreate, LocationUpdate, RoomCreate, RoomUpdate
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams


async def get_location(
    session: AsyncSession, location_id: uuid.UUID, *, for_update: bool = False
) -> Location:
    location = await session.get(Location, location_id, with_for_update=for_update)
    if location is None:
        raise NotFound("No location with this id.")
    return location


async def default_location(session: AsyncSession) -> Location | None:
    """The oldest active location: where a one-location clinic does everything."""
    query = (
        select(Location)
        .where(Location.is_active.is_(True))
        .order_by(Location.created_at, Location.id)
        .limit(1)
    )
    return await session.scalar(query)


async def _refuse_taken_name(
    session: AsyncSession, name: str, *, except_id: uuid.UUID | None = None
) -> None:
    # citext compares without case, like the unique constraint that backs this check.
    query = select(Location.id).where(Location.name == name)
    if except_id is not None:
        query = query.where(Location.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"A location named {name!r} already exists.")


async def create_location(
    session: AsyncSession,
    data: LocationCreate,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> Location:
    await _refuse_taken_name(session, data.name)
    location = Location(**data.model_dump())
    session.add(location)
    await session.flush()
    await session.refresh(location)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="location",
        resource_id=location.id,
        client=client,
        detail={"fields": sorted(data.model_fields_set)},
    )
    return location


async def list_locations(
    session: AsyncSession, page: PageParams, *, active: bool | None
) -> Sequence[Location]:
    query = select(Location)
    if active is not None:
        query = query.where(Location.is_active.is_(active))
    return (await session.scalars(page.apply(query.order_by(Location.name, Location.id)))).all()


# Columns that may be cleared with null; the others keep their value when null is sent.
_NULLABLE_LOCATION = frozenset({"address", "phone"})


async def update_location(
    session: AsyncSession,
    location_id: uuid.UUID,
    data: LocationUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> Location:
    location = await get_location(session, location_id, for_update=True)
    check_version(location.version, expected_version(if_match))
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        await _refuse_taken_name(session, changes["name"], except_id=location.id)
    for field, value in changes.items():
        if value is not None or field in _NULLABLE_LOCATION:
            setattr(location, field, value)
    location.updated_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="update",
        resource_type="location",
        resource_id=location.id,
        client=client,
        detail={"fields": sorted(changes)},
    )
    return location


async def _refuse_taken_room_name(
    session: AsyncSession, location_id: uuid.UUID, name: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Room.id).where(Room.location_id == location_id, Room.name == name)
    if except_id is not None:
        query = query.where(Room.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"This location already has a room named {name!r}.")


async def create_room(
    session: AsyncSession,
    location_id: uuid.UUID,
    data: RoomCreate,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> Room:
    await get_location(session, location_id)
    await _refuse_taken_room_name(session, location_id, data.name)
    room = Room(
        location_id=location_id, name=data.name, kind=data.kind.value, is_active=data.is_active
    )
    session.add(room)
    await session.flush()
    await session.refresh(room)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="room",
        resource_id=room.id,
        client=client,
        detail={"fields": sorted(data.model_fields_set)},
    )
    return room


async def list_rooms(
    session: AsyncSession, location_id: uuid.UUID, page: PageParams, *, active: bool | None
) -> Sequence[Room]:
    await get_location(session, location_id)
    query = select(Room).where(Room.location_id == location_id)
    if active is not None:
        query = query.where(Room.is_active.is_(active))
    return (await session.scalars(page.apply(query.order_by(Room.name, Room.id)))).all()


async def update_room(
    session: AsyncSession,
    room_id: uuid.UUID,
    data: RoomUpdate,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Room:
    room = await session.get(Room, room_id, with_for_update=True)
    if room is None:
        raise NotFound("No room with this id.")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        await _refuse_taken_room_name(session, room.location_id, changes["name"], except_id=room.id)
    for field, value in changes.items():
        setattr(room, field, value)
    room.updated_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="update",
        resource_type="room",
        resource_id=room.id,
        client=client,
        detail={"fields": sorted(changes)},
    )
    return room
