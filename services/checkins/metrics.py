"""Check-in metrics, read from PostgreSQL when Prometheus scrapes (as the outbox's are).

``clinic_alerts_open_oldest_seconds{severity="urgent"}`` is the one to page on: an urgent
alert nobody has acknowledged means a patient reported a red flag and nobody has called.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import SEVERITIES, STATUSES, Alert, Checkin


class _Snapshot(Collector):
    def __init__(self, checkins: dict[str, int], open_alerts: dict[str, tuple[int, float]]) -> None:
        self.checkins = checkins
        self.open_alerts = open_alerts

    def collect(self):  # type: ignore[no-untyped-def]
        # A gauge: a check-in moves from scheduled to sent to answered or expired.
        counts = GaugeMetricFamily(
            "clinic_checkins", "Check-ins by their status now.", labels=["status"]
        )
        for status in STATUSES:
            counts.add_metric([status], self.checkins.get(status, 0))
        yield counts
        open_count = GaugeMetricFamily(
            "clinic_alerts_open", "Alerts not acknowledged yet, by severity.", labels=["severity"]
        )
        oldest = GaugeMetricFamily(
            "clinic_alerts_open_oldest_seconds",
            "Age of the oldest alert not acknowledged (0: none), by severity.",
            labels=["severity"],
        )
        for severity in SEVERITIES:
            count, age = self.open_alerts.get(severity, (0, 0.0))
            open_count.add_metric([severity], count)
            oldest.add_metric([severity], age)
        yield open_count
        yield oldest


async def exposition(session: AsyncSession) -> bytes:
    checkins = await session.execute(select(Checkin.status, func.count()).group_by(Checkin.status))
    # The open alerts read the partial index ix_alerts_open.
    alerts = await session.execute(
        select(
            Alert.severity,
            func.count(),
            func.extract("epoch", func.now() - func.min(Alert.created_at)),
        )
        .where(Alert.acknowledged_at.is_(None))
        .group_by(Alert.severity)
    )
    registry = CollectorRegistry()
    registry.register(
        _Snapshot(
            {status: int(n) for status, n in checkins},
            {severity: (int(n), float(age or 0)) for severity, n, age in alerts},
        )
    )
    return generate_latest(registry)
