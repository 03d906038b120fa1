"""API shapes of the front desk's message views. A message's text is never in them: it is
rendered at send time and not kept; the history says what happened and why."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

# The same values as the CHECK constraints in models.py (a test keeps them in step).
MessageKind = Literal[
    "confirmation", "reminder", "cancellation", "waitlist_offer", "checkin", "alert", "booking_code"
]
MessageChannel = Literal["sms", "email", "none"]
MessageStatus = Literal["pending", "queued", "sending", "sent", "cancelled", "skipped", "failed"]
InboundAction = Literal["confirmed", "opted_out", "stored"]


class MessageEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: MessageStatus
    at: datetime
    detail: dict[str, object]


class MessageRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: MessageKind
    channel: MessageChannel
    status: MessageStatus
    reason: str | None
    send_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    provider_id: str | None
    appointment_id: uuid.UUID | None
    checkin_id: uuid.UUID | None  # an invitation to a check-in, or the alert it raised
    patient_id: uuid.UUID
    created_at: datetime


class MessageOut(MessageRow):
    history: list[MessageEventOut]


class InboundSmsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_phone: str
    body: str
    patient_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    action: InboundAction
    received_at: datetime
