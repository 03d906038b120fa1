"""Check-ins: published questionnaire versions, scheduled check-ins, answers and alerts.

A published questionnaire version never changes and answers are never edited: triggers
(migration 0007) reject UPDATE and DELETE on both, so an answer can always be read against
the exact questions the patient saw. A check-in is ``answered`` exactly when it has an
``answered_at``; an alert is acknowledged by someone at some time, or not at all.

Nothing routes, schedules or sends check-ins yet (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base, now_column, sql_list

STATUSES = ("scheduled", "sent", "answered", "expired", "cancelled")
SEVERITIES = ("urgent", "normal")


class QuestionnaireVersion(Base):
    """One published questionnaire definition (append-only)."""

    __tablename__ = "questionnaires"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "definition ->> 'key' = key AND definition ->> 'version' = version::text",
            name="definition_matches",
        ),
    )

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = now_column()


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_list(STATUSES)}", name="status_valid"),
        CheckConstraint(
            "(status = 'answered') = (answered_at IS NOT NULL)", name="answered_at_matches"
        ),
        ForeignKeyConstraint(
            ["questionnaire_key", "questionnaire_version"],
            ["questionnaires.key", "questionnaires.version"],
        ),
        # One check-in of a questionnaire per appointment and due time, whatever runs twice.
        UniqueConstraint("appointment_id", "questionnaire_key", "due_at"),
        Index("ix_checkins_due", "due_at", postgresql_where=text("status = 'scheduled'")),
        Index("ix_checkins_patient", "patient_id", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    questionnaire_key: Mapped[str] = mapped_column(String(40))
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'scheduled'"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The HMAC of the link's random token, as for every token; the token is never stored.
    token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = now_column()


class CheckinAnswers(Base):
    """The patient's submission, as sent (append-only)."""

    __tablename__ = "checkin_answers"

    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkins.id"), primary_key=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = now_column()


class Alert(Base):
    """What a check-in's answers raised for the chiropractor (one per check-in)."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(f"severity IN {sql_list(SEVERITIES)}", name="severity_valid"),
        CheckConstraint("cardinality(reasons) >= 1", name="has_reasons"),
        CheckConstraint(
            "(acknowledged_by IS NULL) = (acknowledged_at IS NULL)", name="acknowledged_together"
        ),
        CheckConstraint(
            "comment IS NULL OR (acknowledged_at IS NOT NULL AND length(comment) <= 2000)",
            name="comment_on_acknowledgement",
        ),
        UniqueConstraint("checkin_id"),
        Index(
            "ix_alerts_open",
            "severity",
            "created_at",
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
        Index("ix_alerts_patient", "patient_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkins.id"))
    severity: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(80)))
    created_at: Mapped[datetime] = now_column()
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
