"""The beat schedule, in code (not in a database), so every deployment runs the same one."""

from __future__ import annotations

from typing import Any

from services.core.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    # Two beats running at once are harmless: the dispatcher and reaper claim rows with
    # SKIP LOCKED, and the purge is idempotent.
    return {
        "purge-expired-sessions": {
            "task": "workers.tasks.maintenance.purge_expired_sessions",
            "schedule": 600.0,
        },
        "expire-holds": {
            "task": "workers.tasks.maintenance.expire_holds",
            "schedule": 60.0,
        },
        "dispatch-due-messages": {
            "task": "workers.tasks.messages.dispatch_due",
            "schedule": settings.dispatch_interval_seconds,
        },
        "expire-unanswered-checkins": {
            "task": "workers.tasks.checkins.expire_unanswered",
            "schedule": 300.0,
        },
        "reap-queued-messages": {
            "task": "workers.tasks.messages.reap_queued",
            # Often enough that a stuck message waits about its timeout, not twice it.
            # (The task name stays: it reaps rows stuck queued or sending.)
            "schedule": float(min(60, max(1, _shortest_timeout(settings) // 2))),
        },
    }


def _shortest_timeout(settings: Settings) -> int:
    return min(settings.queued_timeout_seconds, settings.sending_timeout_seconds)
