"""What other domains record or read of notes' tables (``service.py`` hands these out): a
check-in's scored observations, a patient's first value of a measure, and a visit's note
status (never its content)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.notes.models import Observation, VisitNote


def record_checkin_observations(
    session: AsyncSession,
    values: Iterable[tuple[str, Decimal, str]],
    *,
    patient_id: uuid.UUID,
    checkin_id: uuid.UUID,
    appointment_id: uuid.UUID | None,
    at: datetime,
) -> None:
    """One observation per (code, value, unit), sourced to the check-in (unique per
    check-in and code)."""
    for code, value, unit in values:
        session.add(
            Observation(
                patient_id=patient_id,
                code=code,
                value=value,
                unit=unit,
                at=at,
                source="checkin",
                checkin_id=checkin_id,
                appointment_id=appointment_id,
            )
        )


async def earliest_value(
    session: AsyncSession, patient_id: uuid.UUID, code: str, before: datetime
) -> float | None:
    """The patient's first ``code`` value recorded before ``before``, whatever its source."""
    value = await session.scalar(
        select(Observation.value)
        .where(
            Observation.patient_id == patient_id,
            Observation.code == code,
            Observation.at < before,
        )
        .order_by(Observation.at, Observation.id)
        .limit(1)
    )
    return float(value) if value is not None else None


def note_status_of(
    appointment_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> ScalarSelect[str]:
    """The status of the visit's note (None: no note), to select alongside appointments in
    one statement; a discarded draft counts as no note (one live note per visit)."""
    return (
        select(VisitNote.status)
        .where(VisitNote.appointment_id == appointment_id, VisitNote.status != "discarded")
        .scalar_subquery()
    )
