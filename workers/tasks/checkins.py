"""Check-in housekeeping: a sent check-in nobody answered before its link expired."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update

from services.checkins.models import Checkin
from services.core import clock
from services.core.database import sync_session_scope
from workers.app import celery_app
from workers.db import engine


@celery_app.task(name="workers.tasks.checkins.expire_unanswered")
def expire_unanswered() -> int:
    """Mark ``expired`` the sent check-ins whose newest link has expired (the page already
    refuses them; this makes the front desk's list and the counts say so). Idempotent; the
    row lock of an answer being saved makes this wait, then skip the answered row."""
    with sync_session_scope(engine()) as session:
        result = session.execute(
            update(Checkin)
            .where(Checkin.status == "sent", Checkin.expires_at <= clock.utcnow())
            .values(status="expired")
        )
        return cast(CursorResult[Any], result).rowcount
