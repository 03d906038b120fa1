"""What messaging does when appointments announces something: outbox rows, in the same
transaction (subscribed by the composition root, ``services/wiring.py``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.events import Booked, Cancelled, Moved, WaitlistOffered
from services.core.events import Events
from services.core.settings import Settings
from services.messaging import schedule


def subscribe(events: Events, settings: Settings) -> None:
    async def booked(session: AsyncSession, event: Booked) -> None:
        await schedule.appointment_booked(
            session, event.appointment, settings, confirm=event.confirm
        )

    async def moved(session: AsyncSession, event: Moved) -> None:
        await schedule.appointment_moved(
            session, event.old, event.new, settings, confirm=event.confirm
        )

    async def cancelled(session: AsyncSession, event: Cancelled) -> None:
        await schedule.appointment_cancelled(
            session, event.appointment, settings, notify=event.notify
        )

    async def offered(session: AsyncSession, event: WaitlistOffered) -> None:
        await schedule.waitlist_offered(session, event.appointment, event.patient_id, settings)

    events.subscribe(Booked, booked)
    events.subscribe(Moved, moved)
    events.subscribe(Cancelled, cancelled)
    events.subscribe(WaitlistOffered, offered)
