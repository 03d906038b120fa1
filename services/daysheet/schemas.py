"""The day sheet as the front desk reads it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from services.appointments.schemas import Source, Status


class SheetEntry(BaseModel):
    appointment_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: Status
    source: Source = Field(description="front_desk, online (booked by the patient) or series")
    patient_id: uuid.UUID
    patient_name: str
    appointment_type: str
    colour: str
    room: str | None
    new_patient: bool
    note_status: str | None = Field(description="draft or signed; None: no note yet")


class SheetColumn(BaseModel):
    practitioner_id: uuid.UUID
    practitioner: str
    appointments: list[SheetEntry]


class DaySheet(BaseModel):
    date: date
    location_id: uuid.UUID
    time_zone: str
    closed: str | None = Field(
        default=None,
        description="Why the location is closed this day (a closure); null when it is open."
        " Visits booked before the closure was added still show.",
    )
    practitioners: list[SheetColumn]
