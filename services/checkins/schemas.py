"""API schemas of check-in alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from services.core.types import required_text


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
