"""API schemas of scheduling. Times go out as ISO 8601 in the location's local offset."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.clinic.types import LocalTime, OptionalText500
from services.core.types import JSON_NUMBER, Flag, IsoDate, IsoDateTime

_FORBID = ConfigDict(extra="forbid")


class Status(StrEnum):
    booked = "booked"
    confirmed = "confirmed"
    checked_in = "checked_in"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"
    rescheduled = "rescheduled"


class Source(StrEnum):
    """Where a booking came from."""

    front_desk = "front_desk"
    online = "online"  # the patient, on the booking pages
    series = "series"  # a care-plan series


class CancelReason(StrEnum):
    patient = "patient"
    clinic = "clinic"
    illness = "illness"  # illness or a flare-up: never charged as a late cancellation


class SeriesMode(StrEnum):
    all_or_nothing = "all_or_nothing"
    book_what_fits = "book_what_fits"


class AppointmentCreate(BaseModel):
    model_config = _FORBID

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    appointment_type_id: uuid.UUID
    starts_at: IsoDateTime
    location_id: uuid.UUID | None = Field(
        default=None, description="Omit when the practitioner works at one location"
    )
    room_id: uuid.UUID | None = Field(
        default=None, description="Omit to have a free room of the type's kind chosen"
    )
    allow_overlap: Flag = Field(
        default=False,
        description="Book over the practitioner's other appointments (chiropractor or admin)",
    )
    note: OptionalText500 | None = None


class Reschedule(BaseModel):
    model_config = _FORBID

    starts_at: IsoDateTime
    practitioner_id: uuid.UUID | None = Field(default=None, description="Omit to keep")
    room_id: uuid.UUID | None = Field(default=None, description="Omit to choose a free room")
    allow_overlap: Flag = False


class Cancel(BaseModel):
    model_config = _FORBID

    reason: CancelReason
    note: OptionalText500 | None = Field(default=None, description="Kept in the history")


class AppointmentOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    location_id: uuid.UUID
    room_id: uuid.UUID | None
    appointment_type_id: uuid.UUID
    series_id: uuid.UUID | None
    source: Source
    starts_at: datetime
    ends_at: datetime
    status: Status
    allow_overlap: bool
    cancel_reason: CancelReason | None
    late_cancel: bool
    note: str | None
    rescheduled_from_id: uuid.UUID | None
    rescheduled_to_id: uuid.UUID | None
    created_at: datetime
    status_changed_at: datetime


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: Status | None
    to_status: Status
    actor_id: uuid.UUID | None
    at: datetime
    detail: dict[str, object]


class AppointmentDetail(AppointmentOut):
    history: list[StatusChangeOut]


# Availability


class Slot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    practitioner_id: uuid.UUID
    room_id: uuid.UUID | None = Field(description="A room that is free then, if the type needs one")


class Availability(BaseModel):
    appointment_type_id: uuid.UUID
    location_id: uuid.UUID
    time_zone: str
    slots: list[Slot]


# Series

Weeks = Annotated[int, Field(ge=1, le=52), JSON_NUMBER]
Weekday = Annotated[int, Field(ge=0, le=6), JSON_NUMBER]


class SeriesCreate(BaseModel):
    model_config = _FORBID

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    appointment_type_id: uuid.UUID
    location_id: uuid.UUID | None = None
    start_date: IsoDate
    weeks: Weeks
    weekdays: Annotated[
        list[Weekday],
        Field(min_length=1, max_length=7, description="0 = Monday … 6 = Sunday"),
    ]
    time: LocalTime = Field(description="Local time of each visit, HH:MM")
    mode: SeriesMode


class SeriesCancel(BaseModel):
    model_config = _FORBID

    from_appointment_id: uuid.UUID = Field(description="This occurrence and all later ones")
    reason: CancelReason
    note: OptionalText500 | None = None


class SeriesMove(BaseModel):
    model_config = _FORBID

    from_appointment_id: uuid.UUID = Field(description="This occurrence and all later ones move")
    time: LocalTime = Field(description="New local time of day, HH:MM")
    practitioner_id: uuid.UUID | None = None


class Occurrence(BaseModel):
    date: date
    starts_at: datetime
    outcome: str = Field(
        description="booked, conflict, unavailable, or closed (the location is closed that day:"
        " left out of the plan, not a failure)"
    )
    appointment_id: uuid.UUID | None = None
    problem: str | None = None
    clashing_appointment_id: uuid.UUID | None = None
    nearest_free: datetime | None = Field(
        default=None, description="The free start nearest the asked time that day"
    )


class SeriesOut(BaseModel):
    id: uuid.UUID | None = Field(description="None when all-or-nothing booked nothing")
    mode: SeriesMode
    booked: int
    occurrences: list[Occurrence]
