"""Time interval arithmetic and the weekly-hours-to-UTC expansion (pure; no database).

Weekly hours are local wall-clock times; the instants they mean change with the location's
UTC offset (daylight saving time). Each date is expanded on its own with ``zoneinfo``, so
08:00 stays 08:00 local on both sides of a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at local wall-clock time ``at`` in ``zone``, as a UTC instant.

    A time that happens twice (the repeated hour when clocks go back) means its first
    occurrence (fold=0). A time that does not exist (the hour skipped when clocks go
    forward) means the moment the clocks jump: 02:30 on that night is 03:00, so a block
    02:30-03:15 is the quarter hour that exists, and 01:00-02:30 ends at the jump. Either
    way an interval keeps the length the wall clock shows that day: 01:00-04:00 on a
    spring-forward night is 2 hours of work, not 3.
    """
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.replace(fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In the gap: fold=1 reads it with the offset after the jump (an instant before the
    # jump) and fold=0 with the one before (after it); the jump lies between, on a minute.
    before_jump = local.replace(fold=1).astimezone(UTC)
    offset = before_jump.astimezone(zone).utcoffset()
    jump = before_jump.replace(second=0, microsecond=0)
    while jump.astimezone(zone).utcoffset() == offset and jump < instant:
        jump += timedelta(minutes=1)
    return jump


def dates(start_date: date, end_date: date) -> Iterator[date]:
    day = start_date
    while day <= end_date:
        yield day
        day += timedelta(days=1)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """``intervals`` minus every ``hole``; both may be unsorted and overlapping."""
    result: list[Interval] = []
    cuts = merge(holes)
    for start, end in merge(intervals):
        cursor = start
        for hole_start, hole_end in cuts:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    low, high = window
    return [(max(s, low), min(e, high)) for s, e in intervals if s < high and e > low]


def weekly_to_utc(
    hours: Iterable[tuple[int, time, time]], zone: ZoneInfo, start_date: date, end_date: date
) -> list[Interval]:
    """Weekly ``(weekday, start, end)`` blocks on each local date in [start_date, end_date]."""
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in hours:
        by_weekday.setdefault(weekday, []).append((start, end))
    found = [
        (local_instant(day, start, zone), local_instant(day, end, zone))
        for day in dates(start_date, end_date)
        for start, end in by_weekday.get(day.weekday(), [])
    ]
    return merge(found)


def local_day_window(start_date: date, end_date: date, zone: ZoneInfo) -> Interval:
    """From local midnight starting ``start_date`` to local midnight after ``end_date``."""
    return (
        local_instant(start_date, time(0), zone),
        local_instant(end_date + timedelta(days=1), time(0), zone),
    )
