"""Outbox tasks: the dispatcher and reaper (beat) and the send task (one per message).

Scheduling never uses Celery ETA/countdown (DESIGN.md, "Messages"): what is due lives in
PostgreSQL, and a retry is the row going back to ``pending`` with a later ``send_at``. If
Redis loses every task, the reaper returns the rows and the dispatcher queues them again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from services.core import clock
from services.core.database import sync_session_scope
from services.core.settings import get_settings
from services.messaging import outbox
from services.messaging.sending import send_one
from workers import channels
from workers.app import celery_app
from workers.db import engine

log = structlog.get_logger(__name__)

# One dispatcher run claims at most this many batches, so a backlog drains in one run
# while a run still ends well before the task time limit.
MAX_BATCHES = 20


@celery_app.task(name="workers.tasks.messages.dispatch_due")
def dispatch_due() -> int:
    """Claim due messages and enqueue one send per message. Enqueueing happens after the
    claim committed; a message whose task is lost stays queued until the reaper."""
    settings = get_settings()
    total = 0
    for _ in range(MAX_BATCHES):
        with sync_session_scope(engine()) as session:
            claimed = outbox.claim_due(session, clock.utcnow(), settings.dispatch_batch)
        for message_id in claimed:
            send_message.delay(str(message_id))
        total += len(claimed)
        if len(claimed) < settings.dispatch_batch:
            break
    if total:
        log.info("messages dispatched", count=total)
    return total


@celery_app.task(name="workers.tasks.messages.reap_queued")
def reap_queued() -> int:
    settings = get_settings()
    with sync_session_scope(engine()) as session:
        returned = outbox.reap(
            session,
            clock.utcnow(),
            queued_for=timedelta(seconds=settings.queued_timeout_seconds),
            sending_for=timedelta(seconds=settings.sending_timeout_seconds),
            max_attempts=settings.send_max_attempts,
        )
    if returned:
        log.warning("stuck messages returned to pending", count=len(returned))
    return len(returned)


@celery_app.task(name="workers.tasks.messages.send_message")
def send_message(message_id: str) -> str:
    """Idempotent: a message no longer queued (already sent, being sent, cancelled) is left
    alone. ``send_one`` commits its own short steps: no transaction (nor pooled connection)
    is held while the provider is waited on."""
    settings = get_settings()
    with Session(engine(), expire_on_commit=False) as session:
        return send_one(session, uuid.UUID(message_id), settings, channels.send, clock.utcnow())
