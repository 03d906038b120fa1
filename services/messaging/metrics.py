"""Outbox metrics, read from PostgreSQL when Prometheus scrapes.

Counting rows instead of incrementing in-process counters keeps the numbers right across
worker processes, restarts and retries: a message is counted once, in its final status.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.messaging.models import Message

COUNTED = ("sent", "failed", "skipped", "cancelled")


class _Snapshot(Collector):
    def __init__(self, totals: list[tuple[str, str, str, int]], lag_seconds: float) -> None:
        self.totals = totals
        self.lag_seconds = lag_seconds

    def collect(self):  # type: ignore[no-untyped-def]
        counts = CounterMetricFamily(
            "clinic_messages",
            "Messages that reached a final status, by kind, channel and status.",
            labels=["kind", "channel", "status"],
        )
        for kind, channel, status, count in self.totals:
            counts.add_metric([kind, channel, status], count)
        yield counts
        yield GaugeMetricFamily(
            "clinic_messages_due_lag_seconds",
            "How long the oldest due message has waited to be sent (0: none waiting).",
            value=self.lag_seconds,
        )


async def exposition(session: AsyncSession) -> bytes:
    totals = await session.execute(
        select(Message.kind, Message.channel, Message.status, func.count())
        .where(Message.status.in_(COUNTED))
        .group_by(Message.kind, Message.channel, Message.status)
        .order_by(Message.kind, Message.channel, Message.status)
    )
    # Pending rows read the partial due index; queued and sending rows are few. A row
    # sending has not reached the patient yet: a stalled provider shows as lag.
    oldest = await session.scalar(
        select(func.min(Message.send_at)).where(
            Message.status.in_(("pending", "queued", "sending")), Message.send_at <= func.now()
        )
    )
    lag = await session.scalar(select(func.extract("epoch", func.now() - oldest))) if oldest else 0
    registry = CollectorRegistry()
    registry.register(_Snapshot([(k, c, s, int(n)) for k, c, s, n in totals], float(lag or 0)))
    return generate_latest(registry)
