"""What other domains may use of messaging's tables (they import from here, never the
models): the outbox row and a message's links, for a kind's checks and a page's link."""

from __future__ import annotations

from services.messaging.models import Message, MessageLink

__all__ = ["Message", "MessageLink"]
