"""Housekeeping: drop sessions, throttle counters, idempotency keys and online-booking holds
nobody can use any more (each deleted by the package that owns its table)."""

from __future__ import annotations

from services.appointments import holds, idempotency
from services.core import clock
from services.core.auth.service import purge_ended_sessions
from services.core.database import sync_session_scope
from services.core.throttle.service import purge_expired as purge_expired_counters
from workers.app import celery_app
from workers.db import engine


@celery_app.task(name="workers.tasks.maintenance.purge_expired_sessions")
def purge_expired_sessions() -> dict[str, int]:
    """Idempotent: running it twice deletes nothing the second time."""
    now = clock.utcnow()
    with sync_session_scope(engine()) as session:
        sessions = purge_ended_sessions(session, now)
        counters = purge_expired_counters(session, now)
        keys = idempotency.purge_expired(session, now)
    return {"sessions": sessions, "throttle_counters": counters, "idempotency_keys": keys}


@celery_app.task(name="workers.tasks.maintenance.expire_holds")
def expire_holds() -> int:
    """Delete the online-booking holds past their time, so availability shows it free again
    (a booking in their way sweeps them itself). Idempotent."""
    with sync_session_scope(engine()) as session:
        return holds.sweep_expired(session, clock.utcnow())


@celery_app.task(name="workers.tasks.maintenance.ping")
def ping() -> str:
    """Does nothing: a probe that a worker takes tasks (and the benchmark's floor)."""
    return "pong"
