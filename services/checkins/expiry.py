"""A sent check-in nobody answered before its link expired becomes ``expired``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from services.checkins.models import Checkin


def expire_unanswered(session: Session, now: datetime) -> int:
    """Idempotent. The page already refuses these links; this makes the front desk's list
    and the counts say so. An answer being saved holds the row lock: this waits, then
    finds the row answered and leaves it."""
    result = session.execute(
        update(Checkin)
        .where(Checkin.status == "sent", Checkin.expires_at <= now)
        .values(status="expired")
    )
    return cast(CursorResult[Any], result).rowcount
