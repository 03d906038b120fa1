"""In-transaction events: a domain announces what it did; packages above it act on it.

A lower package (appointments) cannot import a higher one (messaging, checkins), yet a
booking must write its reminders in the same transaction. So appointments *announces*
``Booked`` and the composition root (``services/wiring.py``) has subscribed messaging to
it. Subscribers run at once, awaited in order, on the announcer's session: their writes
commit or roll back with the cause, and a subscriber that raises fails the request exactly
as if the announcer had raised.

The subscriptions travel with the session (``session.info``), set by the composition root
when it builds the session factory; a package's tests attach an empty ``Events()`` to run
with none. A session with nothing attached refuses to announce (``NotWired``): an entry
point that forgot the wiring fails loudly instead of booking without reminders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

E = TypeVar("E")
Handler = Callable[[AsyncSession, Any], Awaitable[None]]
INFO_KEY = "events"


class Events:
    """Who listens to what: event class → handlers, in the order they subscribed."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type, list[Handler]] = defaultdict(list)

    def subscribe(
        self, event: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]
    ) -> None:
        self._handlers[event].append(handler)

    def listeners(self, event: type) -> tuple[Handler, ...]:
        return tuple(self._handlers.get(event, ()))

    async def publish(self, session: AsyncSession, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            await handler(session, event)


class NotWired(RuntimeError):
    """A session announced with no subscriptions attached: its factory was built without
    ``events``, so a booking would silently write no reminders. Wire it (the composition
    root's ``wiring.events``), or attach an empty ``Events()`` to mean "nobody listens"."""


async def announce(session: AsyncSession, event: object) -> None:
    """Run the subscribers of ``event`` on ``session``, in the order they subscribed."""
    events = session.info.get(INFO_KEY)
    if events is None:
        raise NotWired(f"{type(event).__name__} announced on a session with no events attached")
    await events.publish(session, event)
