"""Check-in housekeeping (beat, every five minutes)."""

from __future__ import annotations

from services.checkins import expiry
from services.core import clock
from services.core.database import sync_session_scope
from workers.app import celery_app
from workers.db import engine


@celery_app.task(name="workers.tasks.checkins.expire_unanswered")
def expire_unanswered() -> int:
    with sync_session_scope(engine()) as session:
        return expiry.expire_unanswered(session, clock.utcnow())
