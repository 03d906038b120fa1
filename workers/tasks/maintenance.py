"""Housekeeping: drop sessions, throttle counters and idempotency keys nobody can use any more."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, or_
from sqlalchemy.orm import Session

from services.appointments.models import IdempotencyKey
from services.core import clock
from services.core.auth.models import AuthSession
from services.core.database import sync_session_scope
from services.core.throttle.service import purge_expired as purge_expired_counters
from workers.app import celery_app
from workers.db import engine

# Ended sessions are kept a while so a security review can still see them.
KEEP_ENDED_SESSIONS = timedelta(days=30)


def _deleted(session: Session, statement: Delete) -> int:
    return cast(CursorResult[Any], session.execute(statement)).rowcount


@celery_app.task(name="workers.tasks.maintenance.purge_expired_sessions")
def purge_expired_sessions() -> dict[str, int]:
    """Idempotent: running it twice deletes nothing the second time."""
    now = clock.utcnow()
    cutoff = now - KEEP_ENDED_SESSIONS
    with sync_session_scope(engine()) as session:
        sessions = _deleted(
            session,
            delete(AuthSession).where(
                or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff)
            ),
        )
        counters = purge_expired_counters(session, now)
        keys = _deleted(session, delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return {"sessions": sessions, "throttle_counters": counters, "idempotency_keys": keys}


@celery_app.task(name="workers.tasks.maintenance.ping")
def ping() -> str:
    """Does nothing: a probe that a worker takes tasks (and the benchmark's floor)."""
    return "pong"
