"""The clinic's blocklist: phones and emails whose online bookings go nowhere.

A blocked contact is not told: they see the pages anyone sees, and nothing is sent or
booked (a flood learns nothing from its refusals)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound
from services.core.pagination import PageParams
from services.online.models import BlockedContact
from services.online.schemas import BlockedContactIn

RESOURCE = "blocked_contact"


async def is_blocked(session: AsyncSession, *, phone: str | None, email: str | None) -> bool:
    values = [value for value in (phone, email) if value]
    if not values:
        return False
    found = await session.scalar(
        select(BlockedContact.id)
        .where(or_(*(BlockedContact.value == value for value in values)))
        .limit(1)
    )
    return found is not None


async def list_blocked(session: AsyncSession, page: PageParams) -> Sequence[BlockedContact]:
    query = select(BlockedContact).order_by(BlockedContact.created_at.desc(), BlockedContact.id)
    return (await session.scalars(page.apply(query))).all()


async def block(
    session: AsyncSession, data: BlockedContactIn, *, actor: Principal, client: ClientInfo
) -> BlockedContact:
    row = BlockedContact(
        kind=data.kind, value=data.value, reason=data.reason, created_by=actor.user_id
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict("This contact is already blocked.", conflict="blocked") from None
    await session.refresh(row)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="create",
        resource_type=RESOURCE,
        resource_id=row.id,
        client=client,
        detail={"kind": row.kind},
    )
    return row


async def unblock(
    session: AsyncSession, entry_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    row = await session.get(BlockedContact, entry_id, with_for_update=True)
    if row is None:
        raise NotFound("No blocked contact with this id.")
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="delete",
        resource_type=RESOURCE,
        resource_id=entry_id,
        client=client,
        detail={"kind": row.kind},
    )
