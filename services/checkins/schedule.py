"""Planning check-ins when a visit is completed, in the transaction that completes it.

Each planned check-in is a ``checkins`` row plus its invitation in the messaging outbox,
so both exist exactly when the completion committed, and the unique indexes make a second
run plan nothing: one check-in after each visit, one per week of a care plan however many
of its visits that week completes.

Weekly check-ins keep the care plan's rhythm: due at 18:00 on the patient's clock on the
plan's first weekday, every 7 days, the first such time at least a day after the visit.
Which of two check-ins close together goes out is decided when sending (no two within
``MIN_GAP``; ``messaging/sending.py``), so a patient seen three times a week is not asked
four times.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment, AppointmentSeries
from services.checkins import policy
from services.checkins.models import Checkin, QuestionnaireVersion
from services.checkins.questionnaire import DEFAULT_KEY
from services.clinic.service import get_appointment_type, local_instant
from services.core import clock
from services.core.settings import Settings
from services.messaging import schedule as messages
from services.patients.service import Patient

WEEKLY_AT = time(18, 0)
WEEKLY_NOT_BEFORE = timedelta(hours=24)  # after the visit that plans it


def next_weekly(series: AppointmentSeries, zone: ZoneInfo, after: datetime) -> datetime:
    """The plan's first weekly check-in time that is at least ``WEEKLY_NOT_BEFORE`` after
    ``after`` (local wall clock, so DST does not shift it)."""
    earliest = after + WEEKLY_NOT_BEFORE
    local_day = earliest.astimezone(zone).date()
    weeks = max(0, -(-(local_day - series.start_date).days // 7))
    due = local_instant(series.start_date + timedelta(weeks=weeks), WEEKLY_AT, zone)
    if due < earliest:  # that day, but before the time: a week later on the wall clock
        due = local_instant(series.start_date + timedelta(weeks=weeks + 1), WEEKLY_AT, zone)
    return due


async def _latest_version(session: AsyncSession) -> int:
    version = await session.scalar(
        select(func.max(QuestionnaireVersion.version)).where(
            QuestionnaireVersion.key == DEFAULT_KEY
        )
    )
    if version is None:  # migration 0007 publishes version 1
        raise RuntimeError(f"questionnaire {DEFAULT_KEY!r} is not published")
    return version


async def _plan(
    session: AsyncSession,
    appointment: Appointment,
    patient: Patient,
    *,
    kind: str,
    due_at: datetime,
    settings: Settings,
    series_id: uuid.UUID | None = None,
) -> None:
    inserted = await session.scalar(
        pg_insert(Checkin)
        .values(
            patient_id=patient.id,
            appointment_id=appointment.id,
            series_id=series_id,
            kind=kind,
            questionnaire_key=DEFAULT_KEY,
            questionnaire_version=await _latest_version(session),
            due_at=due_at,
        )
        .on_conflict_do_nothing()
        .returning(Checkin.id)
    )
    # None: planned already (by an earlier visit of the week), with its invitation.
    if inserted is not None:
        await messages.checkin_planned(session, appointment, patient, inserted, due_at, settings)


async def visit_completed(
    session: AsyncSession, appointment: Appointment, settings: Settings
) -> None:
    """Plan the check-ins the visit's policy asks for."""
    kind = await get_appointment_type(session, appointment.appointment_type_id)
    rule = await policy.effective(session, kind, appointment.location_id)
    patient = await session.get_one(Patient, appointment.patient_id)
    now = clock.utcnow()
    if rule.after_visit_hours is not None:
        due = max(appointment.ends_at, now) + timedelta(hours=rule.after_visit_hours)
        await _plan(
            session, appointment, patient, kind="after_visit", due_at=due, settings=settings
        )
    if rule.weekly_in_series and appointment.series_id is not None:
        series = await session.get_one(AppointmentSeries, appointment.series_id)
        due = next_weekly(series, ZoneInfo(patient.time_zone), max(appointment.ends_at, now))
        await _plan(
            session,
            appointment,
            patient,
            kind="weekly",
            due_at=due,
            settings=settings,
            series_id=series.id,
        )


async def series_ended(session: AsyncSession, series_id: uuid.UUID) -> None:
    """The care plan has no visit to come: its weekly check-ins not yet sent are cancelled
    with their invitations."""
    planned = select(Checkin.id).where(
        Checkin.series_id == series_id, Checkin.status == "scheduled"
    )
    await messages.cancel_checkin_invitations(session, planned, "care_plan_ended")
