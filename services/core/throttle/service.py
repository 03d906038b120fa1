"""One counter mechanism for every throttle: a fixed window per key, counted atomically.

``hit`` reserves an attempt before the work it guards (one ``INSERT … ON CONFLICT DO UPDATE
… RETURNING``: concurrent hits on a key queue on its row, so each sees a distinct count and
at most ``limit`` of them are allowed). The caller then ``forgive``s one hit (an attempt
that should not count after all) or ``clear``s the key (a success that ends the count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.core.database import Database
from services.core.throttle.models import ThrottleCounter


@dataclass(frozen=True)
class Hit:
    allowed: bool
    retry_after: int  # seconds until the window ends (at least 1)


async def hit(
    session: AsyncSession, key: str, *, limit: int, window: timedelta, now: datetime
) -> Hit:
    """Count one attempt on ``key``; allowed while the window's count is at most ``limit``."""
    table = ThrottleCounter.__table__
    expired = table.c.window_ends_at <= now
    statement = (
        insert(ThrottleCounter)
        .values(key=key, hits=1, window_ends_at=now + window)
        .on_conflict_do_update(
            index_elements=[ThrottleCounter.key],
            set_={
                # A refused attempt still counts, so hammering never reopens the window early.
                "hits": case((expired, 1), else_=table.c.hits + 1),
                "window_ends_at": case((expired, now + window), else_=table.c.window_ends_at),
            },
        )
        .returning(ThrottleCounter.hits, ThrottleCounter.window_ends_at)
    )
    hits, ends_at = (await session.execute(statement)).one()
    retry_after = max(1, math.ceil((ends_at - now).total_seconds()))
    return Hit(allowed=hits <= limit, retry_after=retry_after)


async def hit_alone(
    database: Database, key: str, *, limit: int, window: timedelta, now: datetime
) -> Hit:
    """``hit`` in a transaction of its own, committed at once: a counter many requests update
    (one per client address) is locked for one statement, not for the rest of a unit of
    work (else a flood from one address queues on it, holding connections), and a request
    that fails afterwards still counts."""
    async with database.session_scope() as session:
        return await hit(session, key, limit=limit, window=window, now=now)


async def forgive(session: AsyncSession, key: str, *, now: datetime) -> None:
    """Take back one hit in the current window (an attempt that turned out legitimate)."""
    await session.execute(
        update(ThrottleCounter)
        .where(
            ThrottleCounter.key == key,
            ThrottleCounter.window_ends_at > now,
            ThrottleCounter.hits > 0,
        )
        .values(hits=ThrottleCounter.hits - 1)
    )


async def clear(session: AsyncSession, key: str) -> None:
    """Forget the key's count (a success that ends a run of failures)."""
    await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


def purge_expired(session: Session, now: datetime) -> int:
    """Delete counters whose window has ended (they count nothing). Idempotent."""
    result = session.execute(delete(ThrottleCounter).where(ThrottleCounter.window_ends_at <= now))
    return cast(CursorResult[Any], result).rowcount
