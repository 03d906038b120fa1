"""Appointment types: what can be booked, for how long, and in which kind of room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import AppointmentType
from services.clinic.schemas import AppointmentTypeCreate, AppointmentTypeUpdate
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams


async def get_appointment_type(
    session: AsyncSession, type_id: uuid.UUID, *, for_update: bool = False
) -> AppointmentType:
    found = await session.get(AppointmentType, type_id, with_for_update=for_update)
    if found is None:
        raise NotFound("No appointment type with this id.")
    return found


async def _refuse_taken_name(
    session: AsyncSession, name: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(AppointmentType.id).where(AppointmentType.name == name)
    if except_id is not None:
        query = query.where(AppointmentType.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"An appointment type named {name!r} already exists.")


async def create_appointment_type(
    session: AsyncSession,
    data: AppointmentTypeCreate,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> AppointmentType:
    await _refuse_taken_name(session, data.name)
    created = AppointmentType(**data.model_dump())
    session.add(created)
    await session.flush()
    await session.refresh(created)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="appointment_type",
        resource_id=created.id,
        client=client,
        detail={"fields": sorted(data.model_fields_set)},
    )
    return created


async def list_appointment_types(
    session: AsyncSession, page: PageParams, *, active: bool | None
) -> Sequence[AppointmentType]:
    query = select(AppointmentType)
    if active is not None:
        query = query.where(AppointmentType.is_active.is_(active))
    query = query.order_by(AppointmentType.name, AppointmentType.id)
    return (await session.scalars(page.apply(query))).all()


async def update_appointment_type(
    session: AsyncSession,
    type_id: uuid.UUID,
    data: AppointmentTypeUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> AppointmentType:
    found = await get_appointment_type(session, type_id, for_update=True)
    check_version(found.version, expected_version(if_match))
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        await _refuse_taken_name(session, changes["name"], except_id=found.id)
    for field, value in changes.items():
        # room_kind may be cleared (any room will do); null leaves the other fields alone.
        if value is not None or field == "room_kind":
            setattr(found, field, value)
    found.updated_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="update",
        resource_type="appointment_type",
        resource_id=found.id,
        client=client,
        detail={"fields": sorted(changes)},
    )
    return found
