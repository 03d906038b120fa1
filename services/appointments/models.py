"""Scheduling tables: appointments and what hangs off them.

The rule that matters most lives here, in the schema: three exclusion constraints make a
double booking impossible whatever the application checked before (DESIGN.md,
"Invariants"). An appointment holds time unless it was cancelled, missed or moved.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
    bindparam,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base, now_column, sql_list

STATUSES = (
    "booked",
    "confirmed",
    "checked_in",
    "in_progress",
    "completed",
    "cancelled",
    "no_show",
    "rescheduled",
    "held",
)
# A hold: a time kept for a patient booking online, who has not yet proved their phone or
# email. It holds time like a booking (the same exclusion constraints, so the front desk
# cannot book over it either), has no patient yet, and is deleted once it expires.
HELD = "held"
# Where a booking came from, shown to staff (the day sheet, lists).
SOURCES = ("front_desk", "online", "series")
CANCEL_REASONS = ("patient", "clinic", "illness")
# Statuses whose time is free again: the constraints below ignore these rows.
FREED = ("cancelled", "no_show", "rescheduled")
HOLDS_TIME_SQL = "status NOT IN ('cancelled', 'no_show', 'rescheduled')"


class AppointmentSeries(Base):
    """A care plan's recurring pattern ("Mon/Wed/Fri 09:00 for 4 weeks"), as it was asked."""

    __tablename__ = "appointment_series"
    __table_args__ = (
        CheckConstraint("weeks BETWEEN 1 AND 52", name="weeks_range"),
        CheckConstraint(
            "cardinality(weekdays) BETWEEN 1 AND 7 AND 0 <= ALL (weekdays) AND 6 >= ALL (weekdays)",
            name="weekdays_valid",
        ),
        CheckConstraint("mode IN ('all_or_nothing', 'book_what_fits')", name="mode_valid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    appointment_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_types.id"))
    start_date: Mapped[date] = mapped_column(Date)
    weeks: Mapped[int] = mapped_column(SmallInteger)
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    local_time: Mapped[time] = mapped_column(Time)
    mode: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = now_column()


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_end"),
        CheckConstraint("held_from <= starts_at AND held_until >= ends_at", name="held_covers"),
        CheckConstraint(f"status IN {sql_list(STATUSES)}", name="status_valid"),
        CheckConstraint(
            f"cancel_reason IS NULL OR cancel_reason IN {sql_list(CANCEL_REASONS)}",
            name="cancel_reason_valid",
        ),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)", name="cancelled_has_reason"
        ),
        # Only a patient's own late cancellation is charged; a flare-up never is.
        CheckConstraint(
            "NOT late_cancel OR cancel_reason = 'patient'", name="late_only_for_patient"
        ),
        CheckConstraint(
            "(status = 'rescheduled') = (rescheduled_to_id IS NOT NULL)",
            name="rescheduled_links_successor",
        ),
        # A hold has no patient yet, and only a hold has none; only a hold expires.
        CheckConstraint("(status = 'held') = (patient_id IS NULL)", name="held_has_no_patient"),
        CheckConstraint("(status = 'held') = (hold_expires_at IS NOT NULL)", name="held_expires"),
        CheckConstraint(f"source IN {sql_list(SOURCES)}", name="source_valid"),
        ExcludeConstraint(
            ("practitioner_id", "="),
            ("held", "&&"),
            name="ex_appointments_practitioner",
            using="gist",
            where=text(f"{HOLDS_TIME_SQL} AND NOT allow_overlap"),
        ),
        ExcludeConstraint(
            ("room_id", "="),
            ("held", "&&"),
            name="ex_appointments_room",
            using="gist",
            where=text(f"{HOLDS_TIME_SQL} AND room_id IS NOT NULL"),
        ),
        ExcludeConstraint(
            ("patient_id", "="),
            ("during", "&&"),
            name="ex_appointments_patient",
            using="gist",
            where=text(HOLDS_TIME_SQL),
        ),
        # Range scans by start (lists, availability, day sheet); a visit is shorter than a
        # day, so "starts within a day before the window" bounds every overlap query. Busy
        # time is read from the index alone (INCLUDE): no heap page per appointment.
        Index(
            "ix_appointments_practitioner_starts",
            "practitioner_id",
            "starts_at",
            postgresql_include=["held_from", "held_until", "status"],
        ),
        Index(
            "ix_appointments_room_starts",
            "room_id",
            "starts_at",
            postgresql_include=["held_from", "held_until", "status"],
        ),
        Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
        Index("ix_appointments_location_starts", "location_id", "starts_at"),
        Index("ix_appointments_series", "series_id"),
        Index(
            "ix_appointments_hold_expires",
            "hold_expires_at",
            postgresql_where=text("status = 'held'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    # None only while ``held`` (CHECK): every appointment staff see has its patient.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id"))
    appointment_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_types.id"))
    series_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointment_series.id"))
    # The visit itself, and the time it keeps the practitioner and room busy (the type's
    # buffers before and after, copied at booking so editing the type moves nothing).
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    held_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    held_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    during: Mapped[Range[datetime]] = mapped_column(
        TSTZRANGE, Computed("tstzrange(starts_at, ends_at, '[)')", persisted=True)
    )
    held: Mapped[Range[datetime]] = mapped_column(
        TSTZRANGE, Computed("tstzrange(held_from, held_until, '[)')", persisted=True)
    )
    status: Mapped[str] = mapped_column(String(16), server_default=text("'booked'"))
    hold_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16), server_default=text("'front_desk'"))
    allow_overlap: Mapped[bool] = mapped_column(server_default=text("false"))
    cancel_reason: Mapped[str | None] = mapped_column(String(16))
    late_cancel: Mapped[bool] = mapped_column(server_default=text("false"))
    note: Mapped[str | None] = mapped_column(String(500))
    rescheduled_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), unique=True
    )
    # Deferred: a reschedule marks the old row before its successor exists (the new one may
    # take part of the old one's time, which only a freed old row allows).
    rescheduled_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", deferrable=True, initially="DEFERRED"), unique=True
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = now_column()
    status_changed_at: Mapped[datetime] = now_column()


def holds_time() -> ColumnElement[bool]:
    """``status NOT IN FREED`` with the statuses written into the SQL text, for a query
    about held time (``held &&`` / ``during &&``): the exclusion constraints' GiST indexes
    are partial on exactly this predicate, and the planner can only use them when it sees
    the constants. As parameters, a prepared statement's generic plan cannot prove the
    predicate and scans the owner's whole history instead (1.7 s at 1M appointments, where
    the index answers in well under a millisecond)."""
    return Appointment.status.not_in(
        bindparam("freed_statuses", FREED, expanding=True, literal_execute=True)
    )


class StatusChange(Base):
    """Who moved an appointment to which status, and when. Append-only (trigger)."""

    __tablename__ = "appointment_status_changes"
    __table_args__ = (Index("ix_appointment_status_changes_appointment", "appointment_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = now_column()
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class IdempotencyKey(Base):
    """The first answer to a request sent with an ``Idempotency-Key`` header.

    The row is inserted before the work, in the same transaction: a concurrent request with
    the same key waits on the unique index and then reads the stored answer.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "scope", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalendarFeed(Base):
    """A secret iCalendar URL for one practitioner; only the token's hash is stored."""

    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = now_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WaitlistEntry(Base):
    """A patient who wants an earlier slot with a practitioner between two local dates."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("earliest_date <= latest_date", name="dates_ordered"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'removed')", name="status_valid"
        ),
        CheckConstraint(
            "status <> 'offered' OR (offered_at IS NOT NULL AND offered_starts_at IS NOT NULL)",
            name="offer_recorded",
        ),
        Index("ix_waitlist_entries_practitioner_status", "practitioner_id", "status"),
        Index("ix_waitlist_entries_patient", "patient_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id")
    )
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'waiting'"))
    offered_appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    offered_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()
