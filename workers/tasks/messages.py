"""Outbox tasks: the dispatcher and reaper (beat) and the send task (a few messages each).

Scheduling never uses Celery ETA/countdown (DESIGN.md, "Messages"): what is due lives in
PostgreSQL, and a retry is the row going back to ``pending`` with a later ``send_at``. If
Redis loses every task, the reaper returns the rows and the dispatcher queues them again.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from services.core import clock
from services.core.database import sync_session_scope
from services.core.settings import Settings, get_settings
from services.messaging import outbox
from services.messaging.sending import send_one
from workers import channels
from workers.app import celery_app
from workers.db import engine

log = structlog.get_logger(__name__)

# One dispatcher run claims at most this many batches, so a backlog drains in one run
# while a run still ends well before the task time limit.
MAX_BATCHES = 20
# A task still sending after this long hands its remaining messages to a new task, so a
# stalled provider (20 s per SMTP command) never takes a chunk to the task time limit.
SEND_TASK_SECONDS = 60.0


@celery_app.task(name="workers.tasks.messages.dispatch_due")
def dispatch_due() -> int:
    """Claim due messages and enqueue their sends (``outbox.chunks``). Enqueueing happens after the
    claim committed; a message whose task is lost stays queued until the reaper."""
    settings = get_settings()
    total = 0
    for _ in range(MAX_BATCHES):
        with sync_session_scope(engine()) as session:
            claimed = outbox.claim_due(session, clock.utcnow(), settings.dispatch_batch)
        for chunk in outbox.chunks(claimed):
            send_messages.delay(chunk)
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


@celery_app.task(name="workers.tasks.messages.send_messages")
def send_messages(message_ids: list[str]) -> dict[str, str]:
    """Idempotent: a message no longer queued (already sent, being sent, cancelled) is left
    alone, so a redelivered task sends only what is still queued. Each message is its own
    ``send_one``, which commits its own short steps (no transaction or pooled connection
    is held while the provider is waited on): one message's failure or a kill loses no
    other's outcome; a message whose send raised stays ``queued`` or ``sending`` for the
    reaper. Answers each message's outcome."""
    settings = get_settings()
    deadline = time.monotonic() + SEND_TASK_SECONDS
    outcomes: dict[str, str] = {}
    for n, message_id in enumerate(message_ids):
        if n and time.monotonic() > deadline:
            send_messages.delay(message_ids[n:])
            log.warning("slow sends: the rest go to a new task", left=len(message_ids) - n)
            break
        outcomes[message_id] = _send(message_id, settings)
    return outcomes


def _send(message_id: str, settings: Settings) -> str:
    # A session per message: rows another message of the chunk loaded (its patient, its
    # visit) are read again under this one's lock, never reused from an identity map.
    with Session(engine(), expire_on_commit=False) as session:
        try:
            return send_one(session, uuid.UUID(message_id), settings, channels.send, clock.utcnow())
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # Logged as class and frames (services/core/logging.py: a database error's text
            # can quote the row). The message stays queued or sending, for the reaper; the
            # chunk's other messages go on.
            log.exception("send raised", message_id=message_id)
            return "raised"
