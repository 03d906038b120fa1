"""API shapes of the waitlist."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.clinic.types import OptionalText500
from services.core.types import IsoDate


class WaitlistStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"  # a freed slot was offered (offered_* say which)
    booked = "booked"  # the patient booked with the practitioner within the dates
    removed = "removed"


class WaitlistCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    appointment_type_id: uuid.UUID | None = Field(
        default=None, description="Offer only freed visits long enough for this type"
    )
    earliest_date: IsoDate = Field(description="Local date at the practitioner's location")
    latest_date: IsoDate = Field(
        description="Local date, on or after earliest_date and not in the past"
    )
    note: OptionalText500 | None = None


class WaitlistEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    appointment_type_id: uuid.UUID | None
    earliest_date: date
    latest_date: date
    note: str | None
    status: WaitlistStatus
    offered_appointment_id: uuid.UUID | None
    offered_starts_at: datetime | None
    offered_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
