"""The workers' side of the outbox (sync): claim due rows, split them into send tasks,
return stuck ones.

Claiming marks rows ``queued`` in one statement over ``FOR UPDATE SKIP LOCKED`` rows, so
two dispatchers running at once claim disjoint sets, and neither waits for the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, or_, select, update
from sqlalchemy.orm import Session

from services.messaging.models import Message

# A send task takes up to this many messages: a task's own cost (publishing it, Redis,
# Celery's bookkeeping) was a quarter of a message's, and a backlog spreads over many tasks
# anyway. A claim of few messages gets one task each (see ``chunks``), so a slow provider is
# still waited on side by side by a threaded or prefork worker.
SEND_CHUNK = 10
SIDE_BY_SIDE = 32


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
    session: Session,
    now: datetime,
    *,
    queued_for: timedelta,
    sending_for: timedelta,
    max_attempts: int,
) -> list[uuid.UUID]:
    """Rows whose send never finished go back to pending, to be claimed, re-checked and
    sent again (same row id: same Message-ID / Idempotency-Key):

    - ``queued`` longer than ``queued_for``: the task was lost with Redis, or its worker
      died before the send began. The return counts as an attempt, so a send that keeps
      dying there ends ``failed`` instead of coming back for ever.
    - ``sending`` longer than ``sending_for``: the worker died waiting on the provider, or
      before it recorded the outcome (or the send raised something no channel raises).
      Its attempt was counted when it began. The new
      attempt has a new number, so a late outcome of the old one is dropped (``sending.
      record``), never written over the new one's.

    Rows a sender holds locked (its short check or record step) are skipped. A row already
    at ``max_attempts`` ends ``failed`` (``lost``)."""
    stuck_when = or_(
        and_(Message.status == "queued", Message.queued_at < now - queued_for),
        and_(Message.status == "sending", Message.sending_since < now - sending_for),
    )
    stuck = select(Message.id).where(stuck_when).with_for_update(skip_locked=True).cte("stuck")
    counted = Message.attempts + case((Message.status == "queued", 1), else_=0)
    last_try = counted >= max_attempts
    returned = list(
        session.scalars(
            update(Message)
            .where(Message.id == stuck.c.id)
            .values(
                status=case((last_try, "failed"), else_="pending"),
                reason=case((last_try, "lost"), else_=Message.reason),
                attempts=counted,
                queued_at=None,
                sending_since=None,
                updated_at=now,
                change="reaped",
            )
            .returning(Message.id)
        )
    )
    return returned


def chunks(ids: Sequence[uuid.UUID]) -> list[list[str]]:
    """The claimed messages as send tasks' arguments: at most ``SEND_CHUNK`` each, and at
    least ``SIDE_BY_SIDE`` tasks (or one per message, when there are fewer)."""
    size = max(1, min(SEND_CHUNK, len(ids) // SIDE_BY_SIDE))
    return [[str(i) for i in ids[n : n + size]] for n in range(0, len(ids), size)]
