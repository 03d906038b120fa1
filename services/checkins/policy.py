"""Which check-ins a completed visit plans: the policy of its appointment type at its
location.

A row for the type at that location wins over a row for the type everywhere
(``location_id`` NULL); without a row the default holds: a check-in 24 hours after the
visit (in a NUCCA practice nearly every visit, the first exam included, checks and
corrects the atlas, and the red flags matter after each correction) and a weekly one
while the visit's care plan (series) goes on. A type without a correction (an x-ray
review, say) gets a policy with no check-in after the visit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import CheckinPolicy
from services.clinic.service import AppointmentType

DEFAULT_AFTER_VISIT_HOURS = 24
# No check-in goes out within this long after another was sent to the patient (judged at
# send time): three visits a week with a check-in after each, plus a weekly one, would
# otherwise ask a patient in pain four times a week.
MIN_GAP = timedelta(hours=72)


@dataclass(frozen=True)
class Policy:
    after_visit_hours: int | None  # None: no check-in after each visit
    weekly_in_series: bool
    is_default: bool


DEFAULT = Policy(DEFAULT_AFTER_VISIT_HOURS, weekly_in_series=True, is_default=True)


async def effective(
    session: AsyncSession, appointment_type: AppointmentType, location_id: uuid.UUID
) -> Policy:
    row = await session.scalar(
        select(CheckinPolicy)
        .where(
            CheckinPolicy.appointment_type_id == appointment_type.id,
            (CheckinPolicy.location_id == location_id) | CheckinPolicy.location_id.is_(None),
        )
        .order_by(CheckinPolicy.location_id.nulls_last())
        .limit(1)
    )
    if row is None:
        return DEFAULT
    return Policy(row.after_visit_hours, row.weekly_in_series, is_default=False)
