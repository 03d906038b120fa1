"""The beat schedule, in code (not in a database), so every deployment runs the same one."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "purge-expired-sessions": {
        "task": "workers.tasks.maintenance.purge_expired_sessions",
        "schedule": 600.0,
    },
}
