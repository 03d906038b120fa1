"""Clinic setup: where the clinic works, who works when, and what can be booked.

This package owns these tables; other domains use them through ``service.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import (
    ARRAY,
    CITEXT,
    DATERANGE,
    INT4RANGE,
    ExcludeConstraint,
    Range,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base, now_column

ROOM_KINDS = ("adjustment", "xray", "consult")
EXCEPTION_KINDS = ("time_off", "extra_hours")
_ROOM_KIND_SQL = "('adjustment', 'xray', 'consult')"


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
        # E.164: a plus and up to 15 digits (services/core/phones.py writes only this form).
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    # citext: "Main Street" and "main street" are the same place to a receptionist.
    name: Mapped[str] = mapped_column(CITEXT, unique=True)
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()

    __mapper_args__ = {"version_id_col": version}


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("location_id", "name"),
        CheckConstraint(f"kind IN {_ROOM_KIND_SQL}", name="kind_valid"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    name: Mapped[str] = mapped_column(CITEXT)
    kind: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()


class Practitioner(Base):
    __tablename__ = "practitioners"
    __table_args__ = (
        CheckConstraint("length(display_name) BETWEEN 1 AND 200", name="display_name_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str | None] = mapped_column(String(50))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()

    __mapper_args__ = {"version_id_col": version}


class PractitionerLocation(Base):
    """Which locations a practitioner works at."""

    __tablename__ = "practitioner_locations"

    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id"), primary_key=True, index=True
    )


class WorkingHours(Base):
    """A weekly block of local wall-clock time at one location.

    ``minutes`` (minutes since local midnight, ``[)``) exists for the exclusion constraint:
    one practitioner cannot be booked into two overlapping blocks on the same weekday,
    at this location or another, whatever the API checked before.
    """

    __tablename__ = "working_hours"
    __table_args__ = (
        # The practitioner must work at the location: removing the location from them
        # removes their hours there too.
        ForeignKeyConstraint(
            ["practitioner_id", "location_id"],
            ["practitioner_locations.practitioner_id", "practitioner_locations.location_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_valid"),
        CheckConstraint("start_time < end_time", name="starts_before_end"),
        ExcludeConstraint(
            ("practitioner_id", "="),
            ("weekday", "="),
            ("minutes", "&&"),
            name="ex_working_hours_no_overlap",
            using="gist",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    practitioner_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID] = mapped_column(index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    minutes: Mapped[Range[int]] = mapped_column(
        INT4RANGE,
        Computed(
            "int4range("
            "(extract(hour FROM start_time) * 60 + extract(minute FROM start_time))::integer, "
            "(extract(hour FROM end_time) * 60 + extract(minute FROM end_time))::integer)",
            persisted=True,
        ),
    )


class ScheduleException(Base):
    """Time off (any location, or one) or extra hours (at one location), in UTC instants."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (
        CheckConstraint("kind IN ('time_off', 'extra_hours')", name="kind_valid"),
        CheckConstraint("starts_at < ends_at", name="starts_before_end"),
        # Extra hours only mean something at a place; time off may cover every location.
        CheckConstraint(
            "kind = 'time_off' OR location_id IS NOT NULL", name="extra_hours_have_location"
        ),
        Index("ix_schedule_exceptions_practitioner_starts", "practitioner_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE")
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = now_column()


class LocationClosure(Base):
    """Whole local days a location is closed (a public holiday, a week off): nobody works
    there, whatever their weekly hours say. ``days`` exists for the exclusion constraint,
    so two closures of one location never overlap and a day has at most one reason."""

    __tablename__ = "location_closures"
    __table_args__ = (
        CheckConstraint("start_date <= end_date", name="starts_before_end"),
        CheckConstraint("end_date - start_date < 366", name="at_most_a_year"),
        ExcludeConstraint(
            ("location_id", "="),
            ("days", "&&"),
            name="ex_location_closures_no_overlap",
            using="gist",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)  # inclusive
    days: Mapped[Range[date]] = mapped_column(
        DATERANGE, Computed("daterange(start_date, end_date, '[]')", persisted=True)
    )
    # Shown on the public booking pages ("Closed: Christmas Day"): never clinical.
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = now_column()


class AppointmentType(Base):
    __tablename__ = "appointment_types"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 5 AND 480", name="duration_range"),
        CheckConstraint("buffer_before_minutes BETWEEN 0 AND 120", name="buffer_before_range"),
        CheckConstraint("buffer_after_minutes BETWEEN 0 AND 120", name="buffer_after_range"),
        CheckConstraint(f"room_kind IN {_ROOM_KIND_SQL}", name="room_kind_valid"),
        CheckConstraint("colour ~ '^#[0-9A-F]{6}$'", name="colour_hex"),
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("online_notice_minutes BETWEEN 0 AND 20160", name="online_notice_range"),
        CheckConstraint("online_days_ahead BETWEEN 1 AND 365", name="online_days_ahead_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    name: Mapped[str] = mapped_column(CITEXT, unique=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    room_kind: Mapped[str | None] = mapped_column(String(16))
    is_new_patient: Mapped[bool] = mapped_column(server_default=text("false"))
    colour: Mapped[str] = mapped_column(String(7))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # Patients may book it themselves (the /book pages), with their own notice and reach.
    online_bookable: Mapped[bool] = mapped_column(server_default=text("false"))
    online_notice_minutes: Mapped[int] = mapped_column(Integer, server_default=text("720"))
    online_days_ahead: Mapped[int] = mapped_column(Integer, server_default=text("60"))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()

    __mapper_args__ = {"version_id_col": version}


class MessageSettings(Base):
    """Reminder timing and quiet hours of one location (local wall-clock times)."""

    __tablename__ = "message_settings"
    __table_args__ = (
        CheckConstraint(
            "cardinality(reminder_offsets_minutes) <= 5 AND 0 < ALL (reminder_offsets_minutes)",
            name="reminder_offsets_valid",
        ),
        CheckConstraint("quiet_start <> quiet_end", name="quiet_hours_not_empty"),
        CheckConstraint("late_cancel_minutes BETWEEN 0 AND 10080", name="late_cancel_range"),
    )

    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    reminder_offsets_minutes: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{2880,120}'::integer[]")
    )
    quiet_start: Mapped[time] = mapped_column(Time, server_default=text("'21:00'"))
    quiet_end: Mapped[time] = mapped_column(Time, server_default=text("'08:00'"))
    sender_name: Mapped[str | None] = mapped_column(String(100))
    # Where urgent check-in alerts are emailed besides the practitioner (the clinic's
    # shared inbox); NULL: CLINIC_ALERT_EMAIL.
    alert_email: Mapped[str | None] = mapped_column(String(254))
    late_cancel_minutes: Mapped[int] = mapped_column(Integer, server_default=text("1440"))
    updated_at: Mapped[datetime] = now_column()
