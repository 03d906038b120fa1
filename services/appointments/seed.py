"""A demo week of follow-up visits, so the day sheet and availability have something to show.

Added only while the clinic has no appointments at all; booked through the same path as the
API (hours, rooms, constraints), starting tomorrow so nothing lands in the past.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import booking
from services.appointments.models import Appointment
from services.clinic.service import AppointmentType, Location, local_instant, practitioners_at
from services.core import clock
from services.patients.service import Patient

FOLLOW_UP = "NUCCA adjustment follow-up"
DAYS = 5
# Local start times per practitioner and day (inside the demo hours 08-12 and 14-18).
STARTS = (time(8, 30), time(9, 30), time(10, 30), time(14, 0), time(15, 0), time(16, 30))


def _next_weekdays(after: date, count: int) -> list[date]:
    days: list[date] = []
    day = after
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


async def seed_demo_appointments(session: AsyncSession, location: Location) -> int:
    """Books the demo week when there are no appointments; answers how many were booked."""
    if await session.scalar(select(func.count()).select_from(Appointment)):
        return 0
    kind = await session.scalar(select(AppointmentType).where(AppointmentType.name == FOLLOW_UP))
    patients = (await session.scalars(select(Patient.id).order_by(Patient.chart_number))).all()
    doctors = await practitioners_at(session, location.id)
    if kind is None or not patients or not doctors:
        return 0
    zone = ZoneInfo(location.time_zone)
    now = clock.utcnow()
    count = 0
    for day in _next_weekdays(now.astimezone(zone).date(), DAYS):
        for start in STARTS:
            for doctor in doctors:
                spot = booking.Place(
                    patient_id=patients[count % len(patients)],
                    practitioner=doctor,
                    location=location,
                    kind=kind,
                    starts_at=local_instant(day, start, zone),
                )
                await booking.place(session, spot, actor_id=None, now=now)
                count += 1
    return count
