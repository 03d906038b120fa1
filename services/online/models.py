"""Online booking's tables: its settings per location, the clinic's blocklist, and the
requests of patients booking themselves (a hold, the details typed, the code's state).

This package owns them; the hold itself is an appointment (``appointments.holds``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base, now_column


class OnlineBookingSettings(Base):
    """Whether a location takes bookings online, and the limits that keep bots out."""

    __tablename__ = "online_booking_settings"
    __table_args__ = (
        CheckConstraint("hold_minutes BETWEEN 5 AND 30", name="hold_minutes_range"),
        CheckConstraint("open_holds_per_contact BETWEEN 1 AND 10", name="open_holds_range"),
        CheckConstraint("holds_per_address_hour BETWEEN 1 AND 1000", name="address_range"),
        CheckConstraint("codes_per_contact_day BETWEEN 1 AND 50", name="codes_range"),
    )

    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    hold_minutes: Mapped[int] = mapped_column(SmallInteger, server_default=text("10"))
    open_holds_per_contact: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    holds_per_address_hour: Mapped[int] = mapped_column(Integer, server_default=text("10"))
    codes_per_contact_day: Mapped[int] = mapped_column(SmallInteger, server_default=text("5"))
    updated_at: Mapped[datetime] = now_column()


class BlockedContact(Base):
    """A phone number or email the clinic does not take online bookings from. A blocked
    contact sees the same pages as anyone; nothing is sent or booked."""

    __tablename__ = "online_blocked_contacts"
    __table_args__ = (
        CheckConstraint("kind IN ('phone', 'email')", name="kind_valid"),
        CheckConstraint("length(value) BETWEEN 3 AND 254", name="value_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    kind: Mapped[str] = mapped_column(String(8))
    # E.164 for a phone; citext so an email matches whatever its case.
    value: Mapped[str] = mapped_column(CITEXT, unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = now_column()


class BookingRequest(Base):
    """One patient booking themselves: the hold, what they typed, and their code.

    It lives as long as its hold: the hold's deletion (expired, released) deletes it and
    the details in it (ON DELETE CASCADE); a confirmed request is deleted once the patient
    record and the appointment have what they need. The code is never stored: it is
    derived from ``code_nonce`` and the server's secret key when sent and when checked.
    """

    __tablename__ = "online_booking_requests"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_valid"),
        CheckConstraint("tries BETWEEN 0 AND 5", name="tries_range"),
        CheckConstraint(r"phone IS NULL OR phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),
        CheckConstraint(
            "(code_nonce IS NULL) = (code_sent_at IS NULL)", name="code_sent_with_nonce"
        ),
        Index("ix_online_booking_requests_phone", "phone"),
        Index("ix_online_booking_requests_email", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What the patient typed (None until the details page is sent).
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(CITEXT)
    channel: Mapped[str | None] = mapped_column(String(8))
    sms_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    email_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    language: Mapped[str] = mapped_column(String(8), server_default=text("'en'"))
    # A blocked contact goes through the same pages; nothing is sent or booked.
    blocked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    code_nonce: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    code_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    codes_sent: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    tries: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = now_column()
