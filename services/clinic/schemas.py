"""API schemas of clinic setup. Requests forbid unknown fields (no mass assignment of
ids, versions or timestamps); a field reaches a response only by being named here."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.clinic.types import (
    DEFAULT_LATE_CANCEL_MINUTES,
    DEFAULT_ONLINE_DAYS_AHEAD,
    DEFAULT_ONLINE_NOTICE_MINUTES,
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_REMINDER_OFFSETS,
    Credentials,
    ExceptionKind,
    HexColour,
    LocalTime,
    Name,
    OptionalText500,
    Reason,
    RoomKind,
    RoomName,
    SenderName,
)
from services.core.phones import Phone
from services.core.types import JSON_NUMBER, Flag, IsoDate, IsoDateTime, TimeZoneName

_FORBID = ConfigDict(extra="forbid")
_READ = ConfigDict(from_attributes=True)

Weekday = Annotated[int, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday"), JSON_NUMBER]
Duration = Annotated[int, Field(ge=5, le=480), JSON_NUMBER]
Buffer = Annotated[int, Field(ge=0, le=120), JSON_NUMBER]
LocationIds = Annotated[list[uuid.UUID], Field(max_length=50)]
ReminderOffsets = Annotated[
    list[Annotated[int, Field(ge=1, le=43_200), JSON_NUMBER]],
    Field(max_length=5, description="Minutes before the appointment, e.g. [2880, 120]"),
]
LateCancel = Annotated[int, Field(ge=0, le=10_080), JSON_NUMBER]
OnlineNotice = Annotated[
    int,
    Field(ge=0, le=20_160, description="Online: the soonest start, in minutes from now"),
    JSON_NUMBER,
]
OnlineDaysAhead = Annotated[
    int, Field(ge=1, le=365, description="Online: how many days ahead can be booked"), JSON_NUMBER
]
# The column's size (and the longest address SMTP carries).
AlertEmail = Annotated[EmailStr, StringConstraints(max_length=254)]


# Locations


class LocationCreate(BaseModel):
    model_config = _FORBID

    name: Name
    address: OptionalText500 | None = None
    phone: Phone | None = None
    time_zone: TimeZoneName
    is_active: Flag = True


class LocationUpdate(BaseModel):
    model_config = _FORBID

    name: Name | None = None
    address: OptionalText500 | None = None
    phone: Phone | None = None
    time_zone: TimeZoneName | None = None
    is_active: Flag | None = None


class LocationOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    name: str
    address: str | None
    phone: str | None
    time_zone: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Rooms


class RoomCreate(BaseModel):
    model_config = _FORBID

    name: RoomName
    kind: RoomKind
    is_active: Flag = True


class RoomUpdate(BaseModel):
    model_config = _FORBID

    name: RoomName | None = None
    kind: RoomKind | None = None
    is_active: Flag | None = None


class RoomOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    kind: RoomKind
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Practitioners


class PractitionerCreate(BaseModel):
    model_config = _FORBID

    user_id: uuid.UUID = Field(description="A staff user who holds the chiropractor role")
    display_name: Name
    credentials: Credentials | None = None
    location_ids: LocationIds = []
    is_active: Flag = True


class PractitionerUpdate(BaseModel):
    model_config = _FORBID

    display_name: Name | None = None
    credentials: Credentials | None = None
    location_ids: LocationIds | None = Field(
        default=None, description="Replaces the set; hours at a removed location are removed"
    )
    is_active: Flag | None = None


class PractitionerOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    credentials: str | None
    location_ids: list[uuid.UUID]
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Working hours and exceptions


class WorkingHoursIn(BaseModel):
    model_config = _FORBID

    weekday: Weekday
    start_time: LocalTime
    end_time: LocalTime


class WorkingHoursSet(BaseModel):
    """The whole weekly set at one location; what is not listed is removed."""

    model_config = _FORBID

    location_id: uuid.UUID
    hours: Annotated[list[WorkingHoursIn], Field(max_length=50)]


class WorkingHoursOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    location_id: uuid.UUID
    weekday: int
    start_time: LocalTime
    end_time: LocalTime


class ScheduleExceptionCreate(BaseModel):
    """Either ``starts_at``/``ends_at`` (with offsets), or whole local days
    ``start_date``…``end_date`` (inclusive) read in the location's time zone."""

    model_config = _FORBID

    kind: ExceptionKind
    location_id: uuid.UUID | None = Field(
        default=None, description="Required for extra hours; time off without one is everywhere"
    )
    starts_at: IsoDateTime | None = None
    ends_at: IsoDateTime | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    reason: Reason | None = Field(default=None, description="Short and non-clinical")


class ScheduleExceptionOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    practitioner_id: uuid.UUID
    location_id: uuid.UUID | None
    kind: ExceptionKind
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    created_at: datetime


# Closures


class ClosureCreate(BaseModel):
    """Whole local days, ``start_date``…``end_date`` inclusive (one day: the same date)."""

    model_config = _FORBID

    start_date: IsoDate
    end_date: IsoDate
    reason: Reason = Field(description="Shown to patients booking online, e.g. Christmas Day")


class ClosureOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    location_id: uuid.UUID
    start_date: date
    end_date: date
    reason: str
    created_at: datetime


# Appointment types


class AppointmentTypeCreate(BaseModel):
    model_config = _FORBID

    name: Name
    duration_minutes: Duration
    buffer_before_minutes: Buffer = 0
    buffer_after_minutes: Buffer = 0
    room_kind: RoomKind | None = None
    is_new_patient: Flag = False
    colour: HexColour = "#4A90D9"
    is_active: Flag = True
    online_bookable: Flag = Field(
        default=False, description="Patients may book it themselves on the /book pages"
    )
    online_notice_minutes: OnlineNotice = DEFAULT_ONLINE_NOTICE_MINUTES
    online_days_ahead: OnlineDaysAhead = DEFAULT_ONLINE_DAYS_AHEAD


class AppointmentTypeUpdate(BaseModel):
    model_config = _FORBID

    name: Name | None = None
    duration_minutes: Duration | None = None
    buffer_before_minutes: Buffer | None = None
    buffer_after_minutes: Buffer | None = None
    room_kind: RoomKind | None = None
    is_new_patient: Flag | None = None
    colour: HexColour | None = None
    is_active: Flag | None = None
    online_bookable: Flag | None = None
    online_notice_minutes: OnlineNotice | None = None
    online_days_ahead: OnlineDaysAhead | None = None


class AppointmentTypeOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    room_kind: RoomKind | None
    is_new_patient: bool
    colour: str
    is_active: bool
    online_bookable: bool
    online_notice_minutes: int
    online_days_ahead: int
    created_at: datetime
    updated_at: datetime


# Message settings


class MessageSettingsIn(BaseModel):
    """The whole settings of a location; a field left out gets its default."""

    model_config = _FORBID

    reminder_offsets_minutes: ReminderOffsets = list(DEFAULT_REMINDER_OFFSETS)
    quiet_start: LocalTime = DEFAULT_QUIET_START
    quiet_end: LocalTime = DEFAULT_QUIET_END
    sender_name: SenderName | None = Field(default=None, description="Unset: the location's name")
    late_cancel_minutes: LateCancel = DEFAULT_LATE_CANCEL_MINUTES
    alert_email: AlertEmail | None = Field(
        default=None,
        description="The inbox urgent check-in alerts are emailed to; unset: CLINIC_ALERT_EMAIL",
    )


class MessageSettingsOut(BaseModel):
    location_id: uuid.UUID
    reminder_offsets_minutes: list[int]
    quiet_start: LocalTime
    quiet_end: LocalTime
    sender_name: str | None
    late_cancel_minutes: int
    alert_email: str | None = Field(description="As saved; null: the CLINIC_ALERT_EMAIL setting")
    is_default: bool = Field(description="True until the settings are saved once")
