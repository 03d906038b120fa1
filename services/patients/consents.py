"""Consent history: every decision is a new row; the newest per channel is the consent."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, ScalarSelect, Select, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core import clock
from services.patients.models import PatientConsent
from services.patients.schemas import ConsentIn, ConsentState


def new_consent(
    patient_id: uuid.UUID,
    consent: ConsentIn,
    recorded_by: uuid.UUID | None,
    *,
    order: int = 0,
) -> PatientConsent:
    """``order``: position among decisions recorded together; a later one is newer by a
    microsecond, so "the newest decision" never depends on which row the clock favoured."""
    return PatientConsent(
        patient_id=patient_id,
        channel=consent.channel,
        granted=consent.granted,
        method=consent.method,
        recorded_at=clock.utcnow() + timedelta(microseconds=order),
        recorded_by=recorded_by,
        note=consent.note,
    )


async def history(session: AsyncSession, patient_id: uuid.UUID) -> Sequence[PatientConsent]:
    return (
        await session.scalars(
            select(PatientConsent)
            .where(PatientConsent.patient_id == patient_id)
            .order_by(PatientConsent.recorded_at.desc(), PatientConsent.id)
        )
    ).all()


def current_statement(patient_ids: Sequence[uuid.UUID]) -> Select[uuid.UUID, str, bool]:
    """(patient, channel, granted) of the newest decision per patient and channel."""
    return (
        select(PatientConsent.patient_id, PatientConsent.channel, PatientConsent.granted)
        .where(PatientConsent.patient_id.in_(patient_ids))
        .ext(distinct_on(PatientConsent.patient_id, PatientConsent.channel))
        .order_by(
            PatientConsent.patient_id,
            PatientConsent.channel,
            PatientConsent.recorded_at.desc(),
            PatientConsent.id.desc(),
        )
    )


def granted_now(
    patient_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    channel: ColumnElement[str] | InstrumentedAttribute[str],
) -> ScalarSelect[bool]:
    """The newest decision for one patient and channel, as a correlated subquery (NULL: none
    recorded, which means no consent)."""
    return (
        select(PatientConsent.granted)
        .where(PatientConsent.patient_id == patient_id, PatientConsent.channel == channel)
        .order_by(PatientConsent.recorded_at.desc(), PatientConsent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


async def current(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ConsentState]:
    """The newest decision per patient and channel (no row: no consent)."""
    states = {patient_id: ConsentState() for patient_id in patient_ids}
    if not patient_ids:
        return states
    for patient_id, channel, granted in await session.execute(current_statement(patient_ids)):
        setattr(states[patient_id], channel, granted)
    return states
