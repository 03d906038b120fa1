"""The DST-correct expansion of weekly hours into UTC intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic import intervals, service
from services.clinic.models import ScheduleException
from tests.clinic.factories import ClinicFactory


def _utc(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


async def _new_york_practitioner(clinic: ClinicFactory, start: time, end: time) -> tuple:  # type: ignore[type-arg]
    location = await clinic.location(time_zone="America/New_York")
    practitioner = await clinic.practitioner(location)
    await clinic.hours(practitioner, location, range(7), start, end)
    return practitioner, location


async def test_spring_forward_keeps_local_hours(
    session: AsyncSession, clinic: ClinicFactory
) -> None:
    practitioner, location = await _new_york_practitioner(clinic, time(8), time(12))
    found = await service.working_intervals(
        session, practitioner.id, location.id, date(2026, 3, 7), date(2026, 3, 9)
    )
    assert found == [
        (_utc("2026-03-07", 13), _utc("2026-03-07", 17)),  # EST, UTC-5
        (_utc("2026-03-08", 12), _utc("2026-03-08", 16)),  # EDT from 02:00 that morning
        (_utc("2026-03-09", 12), _utc("2026-03-09", 16)),
    ]


async def test_fall_back_keeps_local_hours(session: AsyncSession, clinic: ClinicFactory) -> None:
    practitioner, location = await _new_york_practitioner(clinic, time(8), time(12))
    found = await service.working_intervals(
        session, practitioner.id, location.id, date(2026, 10, 31), date(2026, 11, 2)
    )
    assert found[0] == (_utc("2026-10-31", 12), _utc("2026-10-31", 16))  # EDT
    assert found[-1] == (_utc("2026-11-02", 13), _utc("2026-11-02", 17))  # EST
    assert len(found) == 3


async def test_an_interval_across_the_spring_gap_has_its_real_length(
    session: AsyncSession, clinic: ClinicFactory
) -> None:
    practitioner, location = await _new_york_practitioner(clinic, time(1), time(4))
    [(start, end)] = await service.working_intervals(
        session, practitioner.id, location.id, date(2026, 3, 8), date(2026, 3, 8)
    )
    assert (start, end) == (_utc("2026-03-08", 6), _utc("2026-03-08", 8))
    assert end - start == timedelta(hours=2)
    [(start, end)] = await service.working_intervals(
        session, practitioner.id, location.id, date(2026, 11, 1), date(2026, 11, 1)
    )
    assert end - start == timedelta(hours=4)  # 01:00-02:00 happens twice that night


def test_a_time_in_the_skipped_hour_means_the_moment_clocks_jump() -> None:
    zone = ZoneInfo("America/New_York")
    day = date(2026, 3, 8)  # 02:00 EST jumps to 03:00 EDT (07:00 UTC)
    found = intervals.weekly_to_utc([(day.weekday(), time(2, 30), time(3, 15))], zone, day, day)
    assert found == [(_utc("2026-03-08", 7), _utc("2026-03-08", 7, 15))]
    ends_in_gap = intervals.weekly_to_utc([(day.weekday(), time(1), time(2, 30))], zone, day, day)
    assert ends_in_gap == [(_utc("2026-03-08", 6), _utc("2026-03-08", 7))]


async def test_time_off_removes_and_extra_hours_add(
    session: AsyncSession, clinic: ClinicFactory
) -> None:
    practitioner, location = await _new_york_practitioner(clinic, time(8), time(12))
    session.add_all(
        [
            # 09:00-10:00 local on 2026-03-09 (EDT): a gap in the morning.
            ScheduleException(
                practitioner_id=practitioner.id,
                kind="time_off",
                starts_at=_utc("2026-03-09", 13),
                ends_at=_utc("2026-03-09", 14),
            ),
            # 14:00-16:00 local the same day: an extra afternoon.
            ScheduleException(
                practitioner_id=practitioner.id,
                location_id=location.id,
                kind="extra_hours",
                starts_at=_utc("2026-03-09", 18),
                ends_at=_utc("2026-03-09", 20),
            ),
        ]
    )
    await session.flush()
    found = await service.working_intervals(
        session, practitioner.id, location.id, date(2026, 3, 9), date(2026, 3, 9)
    )
    assert found == [
        (_utc("2026-03-09", 12), _utc("2026-03-09", 13)),
        (_utc("2026-03-09", 14), _utc("2026-03-09", 16)),
        (_utc("2026-03-09", 18), _utc("2026-03-09", 20)),
    ]


async def test_no_hours_is_no_intervals(session: AsyncSession, clinic: ClinicFactory) -> None:
    location = await clinic.location()
    practitioner = await clinic.practitioner(location)
    assert (
        await service.working_intervals(
            session, practitioner.id, location.id, date(2026, 1, 1), date(2026, 1, 31)
        )
        == []
    )


def test_subtract_and_merge() -> None:
    a, b, c, d = (_utc("2026-01-01", h) for h in (8, 10, 12, 14))
    assert intervals.merge([(c, d), (a, b), (b, c)]) == [(a, d)]
    assert intervals.subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]
    assert intervals.subtract([(a, b)], [(a, d)]) == []
    assert intervals.subtract([(a, c)], [(b, d), (a, a)]) == [(a, b)]
