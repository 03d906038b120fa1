"""The workers' side of the outbox (sync): claim due rows, return stuck ones.

Claiming marks rows ``queued`` in one statement over ``FOR UPDATE SKIP LOCKED`` rows, so
two dispatchers running at once claim disjoint sets, and neither waits for the other.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, case, select, update
from sqlalchemy.orm import Session

from services.messaging.models import Message


def claim_statement(now: datetime, limit: int) -> Select[uuid.UUID]:
    """Due pending rows, oldest first, skipping rows another transaction holds. Reads only
    the partial index ``ix_messages_due`` (pending rows), however large the table grows."""
    return (
        select(Message.id)
        .where(Message.status == "pending", Message.send_at <= now)
        .order_by(Message.send_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def claim_due(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    due = claim_statement(now, limit).cte("due")
    claimed = list(
        session.scalars(
            update(Message)
            .where(Message.id == due.c.id)
            .values(status="queued", queued_at=now, updated_at=now, change="claimed")
            .returning(Message.id)
        )
    )
    return claimed


def reap(
    session: Session, now: datetime, older_than: timedelta, max_attempts: int
) -> list[uuid.UUID]:
    """Rows queued longer than ``older_than`` whose send never finished (their task was
    lost with Redis, or its worker died) go back to pending. A send in progress holds its
    row lock, so it is skipped, never reaped under a running task. Each return counts as an
    attempt: a message whose send keeps dying (an error after the provider accepted it)
    ends ``failed`` instead of going out again and again."""
    last_try = Message.attempts + 1 >= max_attempts
    stuck = (
        select(Message.id)
        .where(Message.status == "queued", Message.queued_at < now - older_than)
        .with_for_update(skip_locked=True)
        .cte("stuck")
    )
    returned = list(
        session.scalars(
            update(Message)
            .where(Message.id == stuck.c.id)
            .values(
                status=case((last_try, "failed"), else_="pending"),
                reason=case((last_try, "lost"), else_=Message.reason),
                attempts=Message.attempts + 1,
                queued_at=None,
                updated_at=now,
                change="reaped",
            )
            .returning(Message.id)
        )
    )
    return returned
