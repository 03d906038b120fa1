"""API schemas of online booking (staff side): settings per location and the blocklist."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.core.phones import Phone
from services.core.types import JSON_NUMBER, Flag

_FORBID = ConfigDict(extra="forbid")

DEFAULT_HOLD_MINUTES = 10
DEFAULT_OPEN_HOLDS = 2
DEFAULT_HOLDS_PER_ADDRESS = 10
DEFAULT_CODES_PER_CONTACT = 5

HoldMinutes = Annotated[int, Field(ge=5, le=30), JSON_NUMBER]
OpenHolds = Annotated[int, Field(ge=1, le=10), JSON_NUMBER]
PerAddress = Annotated[int, Field(ge=1, le=1000), JSON_NUMBER]
PerContact = Annotated[int, Field(ge=1, le=50), JSON_NUMBER]


class OnlineSettingsIn(BaseModel):
    """The whole settings of a location; a field left out gets its default."""

    model_config = _FORBID

    enabled: Flag = Field(default=False, description="The location takes bookings on /book")
    hold_minutes: HoldMinutes = Field(
        default=DEFAULT_HOLD_MINUTES,
        description="How long a chosen time is kept while the patient types and verifies",
    )
    open_holds_per_contact: OpenHolds = Field(
        default=DEFAULT_OPEN_HOLDS, description="Times one phone or email may hold at once"
    )
    holds_per_address_hour: PerAddress = Field(
        default=DEFAULT_HOLDS_PER_ADDRESS, description="Times one client address may hold an hour"
    )
    codes_per_contact_day: PerContact = Field(
        default=DEFAULT_CODES_PER_CONTACT, description="Codes sent to one phone or email a day"
    )


class OnlineSettingsOut(OnlineSettingsIn):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    location_id: uuid.UUID
    is_default: bool = Field(description="True until the settings are saved once")


Reason = Annotated[str, StringConstraints(max_length=200)]


class BlockedPhoneIn(BaseModel):
    """A phone number to refuse quietly (any format; stored as E.164)."""

    model_config = _FORBID

    kind: Literal["phone"]
    value: Phone
    reason: Reason | None = None


class BlockedEmailIn(BaseModel):
    """An email address to refuse quietly (whatever its case)."""

    model_config = _FORBID

    kind: Literal["email"]
    value: Annotated[EmailStr, StringConstraints(max_length=254)]
    reason: Reason | None = None


BlockedContactIn = Annotated[BlockedPhoneIn | BlockedEmailIn, Field(discriminator="kind")]


class BlockedContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    value: str
    reason: str | None
    created_at: datetime
