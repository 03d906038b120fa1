"""API shapes for patients. Request models forbid unknown fields: no mass assignment of
id, chart number, status, version or audit fields."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from services.core import clock
from services.core.phones import Phone
from services.core.types import NO_NUL, Flag, IsoDate, TimeZoneName, required_text

Name = Annotated[str, *required_text(100)]
OptionalText100 = Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)]
Sex = Literal["female", "male", "other", "undisclosed"]
Channel = Literal["sms", "email", "none"]
ConsentChannel = Literal["sms", "email"]
ConsentMethod = Literal["verbal", "phone", "written", "electronic"]
# Starts and ends with a letter or digit, so "neck pain " and "neck pain" are one tag.
Tag = Annotated[
    str,
    StringConstraints(
        to_lower=True, max_length=50, pattern=r"^[A-Za-z0-9]([A-Za-z0-9 _-]*[A-Za-z0-9])?$"
    ),
]
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def check_birth_date(value: date) -> date:
    if value < EARLIEST_BIRTH_DATE:
        raise ValueError("a date of birth before 1900 is not plausible; check the year")
    if value > clock.utcnow().date():
        raise ValueError("a date of birth cannot be in the future")
    return value


# A plausible birth date: from 1900 to today. "format: birth-date" tells clients (and the
# schema fuzzer) that the range is checked; the pattern already keeps the year in 1900-2099.
BirthDate = Annotated[
    IsoDate,
    AfterValidator(check_birth_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "birth-date",
            "pattern": r"^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
            "description": "YYYY-MM-DD, from 1900-01-01 to today",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(_Strict):
    line1: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = None
    line2: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = None
    city: OptionalText100 | None = None
    region: OptionalText100 | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20, pattern=NO_NUL)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="ISO 3166-1 alpha-2, e.g. US"
    )


class EmergencyContact(_Strict):
    name: Annotated[str, *required_text(200)]
    phone: Phone


class ConsentIn(_Strict):
    channel: ConsentChannel
    granted: Flag
    method: ConsentMethod
    note: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] | None = None


class PatientFields(_Strict):
    """Fields a client may set, shared by create and update."""

    preferred_name: OptionalText100 | None = None
    sex: Sex | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    address: Address | None = None
    preferred_channel: Channel = "none"
    time_zone: TimeZoneName | None = Field(
        default=None, description="Defaults to the home location's zone"
    )
    home_location_id: uuid.UUID | None = None
    emergency_contact: EmergencyContact | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    front_desk_note: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)] | None = (
        Field(default=None, description="Non-clinical: parking, access needs, billing notes")
    )


class PatientCreate(PatientFields):
    given_name: Name
    family_name: Name
    date_of_birth: BirthDate
    consents: list[ConsentIn] = Field(
        default_factory=list,
        max_length=4,
        description="In the order given: the last decision for a channel is the one that counts",
    )
    allow_duplicate: Flag = Field(
        default=False, description="Create even when a possible duplicate exists (409 otherwise)"
    )


class PatientUpdate(PatientFields):
    """Only the fields sent change; ``null`` clears an optional one."""

    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: BirthDate | None = None
    preferred_channel: Channel | None = None  # type: ignore[assignment]


class ConsentState(BaseModel):
    sms: bool = False
    email: bool = False


class PatientIdentity(BaseModel):
    """Who the record is: what every answer about a patient starts with."""

    id: uuid.UUID
    chart_number: str
    given_name: str
    family_name: str
    preferred_name: str | None
    date_of_birth: date


class PatientOut(PatientIdentity):
    sex: str | None
    phone: str | None
    email: str | None
    address: Address
    preferred_channel: str
    consent: ConsentState
    time_zone: str
    home_location_id: uuid.UUID | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    tags: list[str]
    front_desk_note: str | None
    status: str
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PatientSummary(PatientIdentity):
    """A search hit: enough to tell two people apart at the front desk."""

    model_config = ConfigDict(from_attributes=True)

    phone: str | None
    email: str | None
    status: str


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    granted: bool
    method: str
    recorded_at: datetime
    recorded_by: uuid.UUID | None
    note: str | None
