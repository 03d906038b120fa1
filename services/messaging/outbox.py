"""The workers' side of the outbox (sync): claim due rows, return stuck ones, record events.

Claiming marks rows ``queued`` in one statement over ``FOR UPDATE SKIP LOCKED`` rows, so
two dispatchers running at once claim disjoint sets, and neither waits for the other.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
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


def reap(session: Session, now: datetime, older_than: timedelta) -> list[uuid.UUID]:
    """Rows queued longer than ``older_than`` whose send never finished (their task was
    lost with Redis, or its worker died) go back to pending. A send in progress holds its
    row lock, so it is skipped, never reaped under a running task."""
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
            .values(status="pending", queued_at=None, updated_at=now, change="reaped")
            .returning(Message.id)
        )
    )
    return returned
