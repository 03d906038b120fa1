"""Practitioners: chiropractors with a clinic profile, and the locations they work at."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import Location, Practitioner, PractitionerLocation
from services.clinic.schemas import PractitionerCreate, PractitionerUpdate
from services.core import audit, clock
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound, ValidationFailed
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams


@dataclass(frozen=True)
class PractitionerView:
    practitioner: Practitioner
    location_ids: list[uuid.UUID]


async def get_practitioner(
    session: AsyncSession, practitioner_id: uuid.UUID, *, for_update: bool = False
) -> Practitioner:
    practitioner = await session.get(Practitioner, practitioner_id, with_for_update=for_update)
    if practitioner is None:
        raise NotFound("No practitioner with this id.")
    return practitioner


async def location_ids_of(
    session: AsyncSession, practitioner_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await session.execute(
        select(PractitionerLocation.practitioner_id, PractitionerLocation.location_id)
        .where(PractitionerLocation.practitioner_id.in_(practitioner_ids))
        .order_by(PractitionerLocation.location_id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for practitioner_id, location_id in rows:
        found[practitioner_id].append(location_id)
    return found


async def view(session: AsyncSession, practitioner: Practitioner) -> PractitionerView:
    ids = await location_ids_of(session, [practitioner.id])
    return PractitionerView(practitioner, ids.get(practitioner.id, []))


async def _check_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    user = await session.get(User, user_id)
    if user is None:
        # 404 rather than 422: the request is well formed, the record it names is missing.
        raise NotFound("No user with this user_id.")
    if Role.chiropractor.value not in user.roles:
        raise ValidationFailed(
            "A practitioner must be a user who holds the chiropractor role.",
            errors=[
                {
                    "loc": ["body", "user_id"],
                    "msg": "this user does not hold the chiropractor role",
                    "type": "not_a_chiropractor",
                }
            ],
        )
    taken = select(Practitioner.id).where(Practitioner.user_id == user_id)
    if await session.scalar(taken) is not None:
        raise Conflict("This user already has a practitioner profile.")


async def _check_locations(session: AsyncSession, location_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(location_ids))
    found = set((await session.scalars(select(Location.id).where(Location.id.in_(wanted)))).all())
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No location with id {', '.join(missing)} (location_ids).")
    return wanted


async def _set_locations(
    session: AsyncSession, practitioner_id: uuid.UUID, location_ids: list[uuid.UUID]
) -> None:
    # Removing a location also removes the practitioner's weekly hours there (the
    # working_hours foreign key cascades): hours at a place they no longer work mean nothing.
    await session.execute(
        delete(PractitionerLocation).where(
            PractitionerLocation.practitioner_id == practitioner_id,
            PractitionerLocation.location_id.not_in(location_ids),
        )
    )
    current = set((await location_ids_of(session, [practitioner_id])).get(practitioner_id, []))
    for location_id in location_ids:
        if location_id not in current:
            session.add(
                PractitionerLocation(practitioner_id=practitioner_id, location_id=location_id)
            )
    await session.flush()


async def create_practitioner(
    session: AsyncSession,
    data: PractitionerCreate,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> PractitionerView:
    await _check_user(session, data.user_id)
    location_ids = await _check_locations(session, data.location_ids)
    practitioner = Practitioner(
        user_id=data.user_id,
        display_name=data.display_name,
        credentials=data.credentials,
        is_active=data.is_active,
    )
    session.add(practitioner)
    await session.flush()
    await session.refresh(practitioner)
    await _set_locations(session, practitioner.id, location_ids)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="practitioner",
        resource_id=practitioner.id,
        client=client,
        detail={"fields": sorted(data.model_fields_set)},
    )
    return PractitionerView(practitioner, location_ids)


async def list_practitioners(
    session: AsyncSession,
    page: PageParams,
    *,
    active: bool | None,
    location_id: uuid.UUID | None,
) -> list[PractitionerView]:
    query = select(Practitioner)
    if active is not None:
        query = query.where(Practitioner.is_active.is_(active))
    if location_id is not None:
        query = query.where(
            Practitioner.id.in_(
                select(PractitionerLocation.practitioner_id).where(
                    PractitionerLocation.location_id == location_id
                )
            )
        )
    query = query.order_by(Practitioner.display_name, Practitioner.id)
    rows = (await session.scalars(page.apply(query))).all()
    ids = await location_ids_of(session, [p.id for p in rows])
    return [PractitionerView(p, ids.get(p.id, [])) for p in rows]


async def update_practitioner(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    data: PractitionerUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> PractitionerView:
    practitioner = await get_practitioner(session, practitioner_id, for_update=True)
    check_version(practitioner.version, expected_version(if_match))
    changes = data.model_dump(exclude_unset=True)
    if changes.get("location_ids") is not None:
        await _set_locations(
            session, practitioner.id, await _check_locations(session, changes["location_ids"])
        )
    if changes.get("display_name") is not None:
        practitioner.display_name = changes["display_name"]
    if "credentials" in changes:
        practitioner.credentials = changes["credentials"]
    if changes.get("is_active") is not None:
        practitioner.is_active = changes["is_active"]
    # The version moves with any change, the location set included, so ETags stay honest.
    practitioner.updated_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="update",
        resource_type="practitioner",
        resource_id=practitioner.id,
        client=client,
        detail={"fields": sorted(changes)},
    )
    return await view(session, practitioner)
