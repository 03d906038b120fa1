"""The one place that asks what time it is (UTC, timezone-aware)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
