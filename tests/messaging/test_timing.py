"""Reminder times and quiet hours on the patient's wall clock, across DST changes."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.messaging.timing import QuietHours, earliest_allowed, latest_allowed, reminder_at

CHICAGO = ZoneInfo("America/Chicago")
NIGHT = QuietHours(time(21), time(8), CHICAGO)


def chicago(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=CHICAGO).replace(fold=fold)  # type: ignore[arg-type, misc]


def wall(instant: datetime) -> tuple[str, str]:
    local = instant.astimezone(CHICAGO)
    return local.strftime("%a %H:%M"), local.tzname() or ""


@pytest.mark.parametrize(
    ("starts_at", "offset", "expected"),
    [
        # Clocks spring forward Sunday 2027-03-14: two days before is still 09:00, in CST.
        (chicago(2027, 3, 15, 9), 2880, ("Sat 09:00", "CST")),
        # 2 h before 09:00 is 07:00, quiet: the last minute before quiet hours, Sunday 20:59.
        (chicago(2027, 3, 15, 9), 120, ("Sun 20:59", "CDT")),
        # Clocks fall back Sunday 2027-11-07.
        (chicago(2027, 11, 8, 9), 2880, ("Sat 09:00", "CDT")),
        (chicago(2027, 11, 8, 10), 120, ("Mon 08:00", "CST")),
        # A day and a half: the day on the calendar, the 12 hours in real time.
        (chicago(2027, 3, 15, 12), 2160, ("Sat 20:59", "CST")),
        (chicago(2027, 3, 15, 20), 2160, ("Sun 08:00", "CDT")),
    ],
)
def test_reminder_times(starts_at: datetime, offset: int, expected: tuple[str, str]) -> None:
    assert wall(reminder_at(starts_at, offset, NIGHT)) == expected


def test_quiet_hours_cross_midnight() -> None:
    assert NIGHT.contains(chicago(2027, 3, 15, 21))
    assert NIGHT.contains(chicago(2027, 3, 15, 2))
    assert not NIGHT.contains(chicago(2027, 3, 15, 8))
    assert not NIGHT.contains(chicago(2027, 3, 15, 20, 59))


def test_the_repeated_hour_is_quiet_both_times() -> None:
    for fold in (0, 1):
        instant = chicago(2027, 11, 7, 1, 30, fold=fold)
        assert NIGHT.contains(instant)
        assert wall(latest_allowed(instant, NIGHT)) == ("Sat 20:59", "CDT")
        assert wall(earliest_allowed(instant, NIGHT)) == ("Sun 08:00", "CST")


def test_a_daytime_window() -> None:
    lunch = QuietHours(time(12), time(13), CHICAGO)
    assert wall(latest_allowed(chicago(2027, 3, 15, 12, 30), lunch)) == ("Mon 11:59", "CDT")
    assert wall(earliest_allowed(chicago(2027, 3, 15, 12, 30), lunch)) == ("Mon 13:00", "CDT")
    assert latest_allowed(chicago(2027, 3, 15, 13), lunch) == chicago(2027, 3, 15, 13)
