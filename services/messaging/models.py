"""The outbox: every message to a patient is a row here before anything is sent.

Rows are written in the transaction that causes them (a booking, a move, a cancel), so a
message exists exactly when its cause committed. Workers claim due rows with
``FOR UPDATE SKIP LOCKED``, mark each ``sending`` in a short transaction and talk to the
provider with none open (``sending.py``; DESIGN.md, "Messages"). One unique key per
(kind, appointment, offset) makes a duplicate row impossible.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.naming import conv

from services.core.database import Base, now_column, sql_list

KINDS = (
    "confirmation",
    "reminder",
    "cancellation",
    "waitlist_offer",
    "checkin",
    "alert",
    "booking_code",
)
# A kind to someone who is not a patient yet (the code of an online booking): no patient
# row, the address comes from what they typed (``kinds.Kind.addressed``).
ADDRESSED = ("booking_code",)
# Kinds about a check-in: the patient's check-in invitation, and the staff email an urgent
# alert raises (its recipients are the practitioner and the clinic, not the patient).
ABOUT_CHECKIN = ("checkin", "alert")
# Kinds about a visit still to come, with a confirm/cancel link.
ABOUT_UPCOMING = ("confirmation", "reminder")
CHANNELS = ("sms", "email", "none")
STATUSES = ("pending", "queued", "sending", "sent", "cancelled", "skipped", "failed")
# A message the patient has, or is being sent right now (its text is on its way: nothing
# can call it back). What a cancel or the 72-hour check-in rule counts as "told".
ON_ITS_WAY = ("sending", "sent")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_list(KINDS)}", name="kind_valid"),
        CheckConstraint(f"channel IN {sql_list(CHANNELS)}", name="channel_valid"),
        CheckConstraint(f"status IN {sql_list(STATUSES)}", name="status_valid"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at_matches"),
        CheckConstraint("(status = 'queued') = (queued_at IS NOT NULL)", name="queued_at_matches"),
        CheckConstraint(
            "(status = 'sending') = (sending_since IS NOT NULL)", name="sending_since_matches"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(kind = 'reminder') = (offset_minutes IS NOT NULL)", name="offset_for_reminders"
        ),
        CheckConstraint(
            f"(kind IN {sql_list(ABOUT_CHECKIN)}) = (checkin_id IS NOT NULL)",
            name="checkin_for_checkin_kinds",
        ),
        CheckConstraint(
            f"(kind IN {sql_list(ADDRESSED)}) = (patient_id IS NULL)",
            name="patient_unless_addressed",
        ),
        CheckConstraint(
            "(kind = 'booking_code') = (booking_request_id IS NOT NULL AND code_round IS NOT NULL)",
            name="request_for_booking_codes",
        ),
        # One confirmation, one cancellation notice, one offer and one reminder per offset
        # for an appointment, one invitation and one alert email per check-in, and one
        # booking code per round of a request, whatever runs twice.
        UniqueConstraint(
            "kind",
            "appointment_id",
            "offset_minutes",
            "checkin_id",
            "booking_request_id",
            "code_round",
            name=conv("uq_messages_one_per_subject"),
            postgresql_nulls_not_distinct=True,
        ),
        # The dispatcher's claim and the reaper read only these tiny partial indexes.
        Index("ix_messages_due", "send_at", postgresql_where=text("status = 'pending'")),
        Index("ix_messages_queued", "queued_at", postgresql_where=text("status = 'queued'")),
        Index("ix_messages_sending", "sending_since", postgresql_where=text("status = 'sending'")),
        Index("ix_messages_patient", "patient_id", "created_at"),
        Index("ix_messages_appointment", "appointment_id"),
        Index("ix_messages_checkin", "checkin_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    kind: Mapped[str] = mapped_column(String(20))
    # None only for an addressed kind (CHECK): someone booking online, not a patient yet.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"))
    # The online booking request a code is for, and which code of it. No foreign key: the
    # request is deleted with its hold (minutes later), while the message stays as history;
    # the kind finds the request gone and skips an unsent code.
    booking_request_id: Mapped[uuid.UUID | None]
    code_round: Mapped[int | None] = mapped_column(SmallInteger)
    # The appointment's start when the row was written or last moved: the send re-checks
    # that the visit is still at this time.
    appointment_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    channel: Mapped[str] = mapped_column(String(8))
    offset_minutes: Mapped[int | None] = mapped_column(Integer)
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    segments: Mapped[int | None] = mapped_column(SmallInteger)
    # Why the row last changed ("booked", "claimed", "reaped", "retry", …): the history
    # trigger copies it into message_events with the new status.
    change: Mapped[str | None] = mapped_column(String(40))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the current attempt (number ``attempts``) began talking to the provider; the
    # reaper resends a row ``sending`` longer than ``CLINIC_SENDING_TIMEOUT_SECONDS``.
    sending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()


class MessageEvent(Base):
    """What happened to a message, in order. Written only by the ``messages_history``
    trigger (on insert, and on every change of status, time or appointment), so no code
    path can change a message without a trace. Append-only (trigger)."""

    __tablename__ = "message_events"
    __table_args__ = (Index("ix_message_events_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = now_column()
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class MessageLink(Base):
    """A link sent in a message: confirm/cancel (its appointment is the message's) or a
    check-in form (its check-in is the message's). Only the token's keyed hash is kept; a
    confirm/cancel link stops working at the appointment's start, a check-in link after
    ``CLINIC_CHECKIN_LINK_HOURS``, and both once used. Each send attempt gets its own
    link, inserted, never updated: the sender never has to lock what the link is about
    first, and a text that did go out before a failed commit keeps a working link."""

    __tablename__ = "message_links"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_for: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = now_column()


class InboundSms(Base):
    """A text message a patient sent to the clinic's number, and what we did with it."""

    __tablename__ = "inbound_sms"
    __table_args__ = (
        CheckConstraint("action IN ('confirmed', 'opted_out', 'stored')", name="action_valid"),
        Index("ix_inbound_sms_received_at", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    # The provider's id: it retries a webhook it thinks failed; the second copy is ignored.
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    action: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = now_column()
