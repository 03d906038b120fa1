"""Check-ins: published questionnaire versions, scheduled check-ins, answers and alerts.

A published questionnaire version never changes and answers are never edited: triggers
(migration 0007) reject UPDATE and DELETE on both, so an answer can always be read against
the exact questions the patient saw. A check-in is ``answered`` exactly when it has an
``answered_at``, and has been sent exactly when it has a ``sent_at`` (and the expiry of its
newest link); an alert is acknowledged by someone at some time, or not at all.

A check-in is written when a visit is completed (``schedule.py``), together with its
invitation in the messaging outbox (a ``messages`` row of kind ``checkin``); the link in
the invitation is a ``message_links`` row like every link in a message.
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
    SmallInteger,
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
NOT_SENT = ("scheduled", "cancelled")
# after_visit: one per completed visit; weekly: one per week of an active care plan.
KINDS = ("after_visit", "weekly")
AUDIT_RESOURCE = "checkin"  # audit rows of reads and answers of check-ins
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
        CheckConstraint(f"kind IN {sql_list(KINDS)}", name="kind_valid"),
        CheckConstraint("(kind = 'weekly') = (series_id IS NOT NULL)", name="series_for_weekly"),
        CheckConstraint(
            f"(sent_at IS NULL) = (status IN {sql_list(NOT_SENT)})", name="sent_at_matches"
        ),
        CheckConstraint("(sent_at IS NULL) = (expires_at IS NULL)", name="expires_when_sent"),
        ForeignKeyConstraint(
            ["questionnaire_key", "questionnaire_version"],
            ["questionnaires.key", "questionnaires.version"],
        ),
        # One check-in after each visit, and one per week of a series, whatever runs twice
        # (several visits of a week all plan the same weekly one).
        Index(
            "uq_checkins_after_visit",
            "appointment_id",
            unique=True,
            postgresql_where=text("kind = 'after_visit'"),
        ),
        Index(
            "uq_checkins_weekly",
            "series_id",
            "due_at",
            unique=True,
            postgresql_where=text("kind = 'weekly'"),
        ),
        Index("ix_checkins_sent", "expires_at", postgresql_where=text("status = 'sent'")),
        Index("ix_checkins_patient", "patient_id", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    # The completed visit that planned it (for a weekly one, the first of its week to
    # complete: its practitioner is the one an alert email goes to).
    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"))
    series_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointment_series.id"))
    kind: Mapped[str] = mapped_column(String(16))
    questionnaire_key: Mapped[str] = mapped_column(String(40))
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'scheduled'"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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


class CheckinPolicy(Base):
    """When check-ins go out after a visit of one appointment type: at every location
    (``location_id`` NULL) or at one location (which then wins). Without a row the default
    applies (``policy.DEFAULT``)."""

    __tablename__ = "checkin_policies"
    __table_args__ = (
        CheckConstraint(
            "after_visit_hours IS NULL OR after_visit_hours BETWEEN 1 AND 336",
            name="after_visit_hours_range",
        ),
        UniqueConstraint("appointment_type_id", "location_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    appointment_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="CASCADE")
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    # Hours after the visit's end; NULL: no check-in after each visit of this type.
    after_visit_hours: Mapped[int | None] = mapped_column(SmallInteger)
    weekly_in_series: Mapped[bool] = mapped_column()
    updated_at: Mapped[datetime] = now_column()
