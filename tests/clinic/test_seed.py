from __future__ import annotations

from datetime import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins import policy
from services.clinic.models import (
    AppointmentType,
    Location,
    MessageSettings,
    Practitioner,
    Room,
    WorkingHours,
)
from services.clinic.seed import seed_clinic
from services.demo import seed_demo


async def _counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in (Location, Room, Practitioner, WorkingHours, AppointmentType, MessageSettings):
        counts[model.__tablename__] = int(
            await session.scalar(select(func.count()).select_from(model)) or 0
        )
    return counts


async def test_the_demo_clinic_is_seeded_once(session: AsyncSession) -> None:
    seeded = await seed_demo(session, "a demo password 123")
    assert seeded.patients == 50
    assert seeded.appointments == 5 * 6 * 2  # a week, six visits a day, two doctors
    assert len(seeded.staff) == 4
    first = await _counts(session)
    location = await session.scalar(select(Location).where(Location.name == "The Balanced Atlas"))
    assert location is not None and location.time_zone == "America/Chicago"
    assert location.phone == "+13125550100"
    rooms = (await session.scalars(select(Room.name).where(Room.location_id == location.id))).all()
    assert sorted(rooms) == ["Adjustment 1", "Adjustment 2", "Consult", "X-ray"]
    names = (await session.scalars(select(Practitioner.display_name))).all()
    assert {"Dr. Ana Reyes", "Dr. Chidi Okafor"} <= set(names)
    blocks = (
        await session.execute(
            select(WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time).where(
                WorkingHours.location_id == location.id
            )
        )
    ).all()
    assert len(blocks) == 2 * 5 * 2
    assert {(b[1], b[2]) for b in blocks} == {(time(8), time(12)), (time(14), time(18))}
    new_patient = await session.scalar(
        select(AppointmentType).where(AppointmentType.name == "New patient consultation & exam")
    )
    assert new_patient is not None
    assert (new_patient.duration_minutes, new_patient.room_kind, new_patient.is_new_patient) == (
        60,
        "xray",
        True,
    )
    # An x-ray review corrects nothing: no check-in after it (the rest keep the default).
    review = await session.scalar(
        select(AppointmentType).where(AppointmentType.name == "X-ray review")
    )
    assert review is not None
    rule = await policy.effective(session, review, location.id)
    assert (rule.after_visit_hours, rule.weekly_in_series, rule.is_default) == (None, False, False)
    assert await policy.effective(session, new_patient, location.id) == policy.DEFAULT
    assert await seed_clinic(session) == []
    again = await seed_demo(session, "a demo password 123")
    assert (again.staff, again.clinic, again.patients, again.appointments) == ([], [], 0, 0)
    assert await _counts(session) == first
