"""API schemas of check-ins: alerts, policies and the staff views of check-ins."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.types import JSON_NUMBER, Flag, required_text


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    all = "all"


class Severity(StrEnum):
    urgent = "urgent"
    normal = "normal"


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    checkin_id: uuid.UUID
    severity: Severity
    reasons: list[str]
    created_at: datetime
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    comment: str | None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, *required_text(2000)]


# Check-in policies (admin)

AfterVisitHours = Annotated[int, Field(ge=1, le=336), JSON_NUMBER]


class PolicyIn(BaseModel):
    """When check-ins go out after visits of one type, at one location or (``location_id``
    null) at every location without its own row."""

    model_config = ConfigDict(extra="forbid")

    appointment_type_id: uuid.UUID
    location_id: uuid.UUID | None = Field(default=None, description="Null: every location")
    # Required, though nullable: leaving it out should not quietly stop check-ins.
    after_visit_hours: AfterVisitHours | None = Field(
        description="Hours after the visit's end (1 to 336); null: no check-in after each visit"
    )
    weekly_in_series: Flag = Field(description="A weekly check-in while a care plan goes on")


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    appointment_type_id: uuid.UUID
    location_id: uuid.UUID | None
    after_visit_hours: int | None
    weekly_in_series: bool
    updated_at: datetime


class EffectivePolicyOut(BaseModel):
    appointment_type_id: uuid.UUID
    location_id: uuid.UUID
    after_visit_hours: int | None
    weekly_in_series: bool
    is_default: bool = Field(description="True when no saved row applies")


# Check-ins for staff


class CheckinStatus(StrEnum):
    scheduled = "scheduled"
    sent = "sent"
    answered = "answered"
    expired = "expired"
    cancelled = "cancelled"


class CheckinKind(StrEnum):
    after_visit = "after_visit"
    weekly = "weekly"


class CheckinOut(BaseModel):
    """Whether a check-in went out and came back: what every staff role may see. Never
    the answers (DESIGN.md roles: the front desk sees check-in status only)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    appointment_id: uuid.UUID
    kind: CheckinKind
    status: CheckinStatus = Field(description="A sent one past its expiry shows expired")
    due_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    answered_at: datetime | None


class CheckinAlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    severity: Severity
    reasons: list[str]
    acknowledged: bool


class CheckinDetailOut(CheckinOut):
    """The chiropractor's view: the questionnaire answered and the answers as sent."""

    questionnaire_key: str
    questionnaire_version: int
    answers: dict[str, Any] | None = Field(description="Null until answered")
    alert: CheckinAlertOut | None
