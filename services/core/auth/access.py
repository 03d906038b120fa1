"""Object-level authorisation: the pattern every domain reuses.

A domain writes one small predicate per action, ``(principal, obj) -> bool``, next to its
data, and loads records through ``load_authorized`` (or calls ``authorize`` on a record it
already has). A missing record is 404; an existing record the caller may not touch is 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.auth.service import Principal
from services.core.database import Base
from services.core.errors import Forbidden, NotFound

M = TypeVar("M", bound=Base)
Predicate = Callable[[Principal, M], bool]


def authorize(principal: Principal, obj: M, allowed: Predicate[M]) -> M:
    if not allowed(principal, obj):
        raise Forbidden("You may not access this record.")
    return obj


async def load_authorized(
    session: AsyncSession,
    model: type[M],
    object_id: uuid.UUID,
    principal: Principal,
    allowed: Predicate[M],
    *,
    for_update: bool = False,
) -> M:
    obj = await session.get(model, object_id, with_for_update=for_update)
    if obj is None:
        raise NotFound(f"No {model.__tablename__.rstrip('s').replace('_', ' ')} with this id.")
    return authorize(principal, obj, allowed)
