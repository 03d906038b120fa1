"""API schemas of visit notes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.core.types import required_text
from services.notes.computed import Changes
from services.notes.content import Assessment, NoteContent, Objective, Plan, Subjective

_FORBID = ConfigDict(extra="forbid")
_READ = ConfigDict(from_attributes=True)


class NoteStatus(StrEnum):
    draft = "draft"
    signed = "signed"
    discarded = "discarded"


class NoteCreate(BaseModel):
    model_config = _FORBID

    appointment_id: uuid.UUID
    content: NoteContent = Field(
        default_factory=NoteContent,
        description="Omit to start from the appointment type's note template",
    )


class NoteUpdate(BaseModel):
    """The sections sent replace the saved ones; sections not sent stay as they are."""

    model_config = _FORBID

    subjective: Subjective | None = None
    objective: Objective | None = None
    assessment: Assessment | None = None
    plan: Plan | None = None


class NoteSummary(BaseModel):
    """What every staff role may see: that a note exists, and its status."""

    model_config = _READ

    id: uuid.UUID
    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    author_id: uuid.UUID
    status: NoteStatus
    signed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AddendumIn(BaseModel):
    model_config = _FORBID

    text: Annotated[str, *required_text(4000)]


class AddendumOut(BaseModel):
    model_config = _READ

    id: uuid.UUID
    author_id: uuid.UUID
    text: str
    created_at: datetime


class NoteOut(NoteSummary):
    content: NoteContent
    content_hash: str | None
    addenda: list[AddendumOut]
    changes: Changes = Field(
        description="Before/after the correction, and pain/headache days since the"
        " patient's previous signed note"
    )


class RevisionOut(BaseModel):
    model_config = _READ

    version: int
    content: NoteContent
    saved_by: uuid.UUID
    saved_at: datetime
