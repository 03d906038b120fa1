"""The composition root's one wiring: who listens to whom, and which message kinds exist.

Used by every process that runs domain code: the HTTP app (``services/app.py``), the Celery
app (``workers/app.py``) and the CLI (``services/cli.py``). No package below this layer
imports the subscribers or kinds of a package above its own.
"""

from __future__ import annotations

from services.checkins import message_kinds as checkin_kinds
from services.checkins import subscriptions as checkins
from services.core.events import Events
from services.core.settings import Settings
from services.messaging import appointment_kinds, kinds
from services.messaging import subscriptions as messaging
from services.online import codes as online_codes


def events(settings: Settings) -> Events:
    """Appointments' events → messaging's outbox rows, then checkins' plans (in order)."""
    wired = Events()
    messaging.subscribe(wired, settings)
    checkins.subscribe(wired, settings)
    return wired


def register_kinds() -> None:
    """Every message kind the outbox sends: messaging's about visits, checkins' own, online
    booking's code. Idempotent; every process that sends or renders messages calls it at
    start."""
    kinds.register(*appointment_kinds.KINDS, *checkin_kinds.KINDS, *online_codes.KINDS)
