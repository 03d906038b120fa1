"""Visit notes and what hangs off them. Clinical content lives only here.

A trigger (migration) makes a signed note unchangeable: no UPDATE or DELETE of a row whose
status is ``signed``, whatever the API or a person with SQL access tries. Revisions and
addenda are append-only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base, now_column

NOTE_STATUSES = ("draft", "signed", "discarded")


class VisitNote(Base):
    __tablename__ = "visit_notes"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'signed', 'discarded')", name="status_valid"),
        CheckConstraint(
            "(status = 'signed') = (signed_at IS NOT NULL AND content_hash IS NOT NULL)",
            name="signed_has_hash",
        ),
        # One live note per appointment; a discarded draft does not count.
        Index(
            "uq_visit_notes_appointment_live",
            "appointment_id",
            unique=True,
            postgresql_where=text("status <> 'discarded'"),
        ),
        Index("ix_visit_notes_patient", "patient_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'draft'"))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()

    __mapper_args__ = {"version_id_col": version}


class NoteRevision(Base):
    """Every saved state of a draft (append-only)."""

    __tablename__ = "note_revisions"
    __table_args__ = (UniqueConstraint("note_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_notes.id"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    saved_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = now_column()


class NoteAddendum(Base):
    """A correction or addition after signing (append-only)."""

    __tablename__ = "note_addenda"
    __table_args__ = (
        CheckConstraint("length(text) BETWEEN 1 AND 4000", name="text_length"),
        Index("ix_note_addenda_note", "note_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_notes.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()


class Observation(Base):
    """One typed outcome value (pain NRS, headache days, leg check, …) for a patient's
    series, from a signed note or a check-in's answers."""

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint("source IN ('note', 'checkin')", name="source_valid"),
        CheckConstraint("(source = 'checkin') = (checkin_id IS NOT NULL)", name="checkin_source"),
        UniqueConstraint("note_id", "code"),
        UniqueConstraint("checkin_id", "code"),
        Index("ix_observations_patient_code_at", "patient_id", "code", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    code: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    unit: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    note_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visit_notes.id"))
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    created_at: Mapped[datetime] = now_column()


class NoteTemplate(Base):
    """The content a new note of one appointment type starts from (new-patient exam vs.
    follow-up), kept by the chiropractors."""

    __tablename__ = "note_templates"

    appointment_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = now_column()
