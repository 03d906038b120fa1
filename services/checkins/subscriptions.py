"""What checkins does when appointments announces something: plan the check-ins of a
completed visit, and stop a care plan's weekly ones when it has no visit to come (in the
same transaction; subscribed by the composition root, ``services/wiring.py``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.events import CarePlanEnded, Completed
from services.checkins import schedule
from services.core.events import Events
from services.core.settings import Settings


def subscribe(events: Events, settings: Settings) -> None:
    async def completed(session: AsyncSession, event: Completed) -> None:
        await schedule.visit_completed(session, event.appointment, settings)

    async def ended(session: AsyncSession, event: CarePlanEnded) -> None:
        await schedule.series_ended(session, event.series_id)

    events.subscribe(Completed, completed)
    events.subscribe(CarePlanEnded, ended)
