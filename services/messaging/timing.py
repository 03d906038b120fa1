"""When a message may go out: reminder offsets and quiet hours, in the patient's zone.

Every function takes and returns UTC instants; only the quiet-hours test looks at the local
wall clock, through ``zoneinfo``, so a DST change moves nothing by an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.clinic.intervals import local_instant

# A reminder moved out of quiet hours goes this long before they begin (the last
# allowed minute), not at their first quiet minute.
BEFORE_QUIET = timedelta(minutes=1)


@dataclass(frozen=True)
class QuietHours:
    """Local wall-clock window ``[start, end)``; it may cross midnight (21:00-08:00)."""

    start: time
    end: time
    zone: ZoneInfo

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def began(self, instant: datetime) -> datetime:
        """Start of the quiet period that contains ``instant``."""
        local = instant.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time() < self.end:
            day -= timedelta(days=1)  # after midnight: the period began the evening before
        return local_instant(day, self.start, self.zone)

    def ends(self, instant: datetime) -> datetime:
        """End of the quiet period that contains ``instant``."""
        local = instant.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)  # before midnight: it ends the next morning
        return local_instant(day, self.end, self.zone)


def latest_allowed(instant: datetime, quiet: QuietHours) -> datetime:
    """``instant``, or the last allowed minute before the quiet hours it falls in."""
    if not quiet.contains(instant):
        return instant
    return quiet.began(instant) - BEFORE_QUIET


def earliest_allowed(instant: datetime, quiet: QuietHours) -> datetime:
    """``instant``, or the end of the quiet hours it falls in."""
    if not quiet.contains(instant):
        return instant
    return quiet.ends(instant)


def reminder_at(starts_at: datetime, offset_minutes: int, quiet: QuietHours) -> datetime:
    """``offset_minutes`` before the visit, moved earlier out of quiet hours.

    Whole days count on the patient's calendar (48h before Monday 09:00 is Saturday 09:00
    even when the clocks change on Sunday); the rest counts in real minutes."""
    days, minutes = divmod(offset_minutes, 24 * 60)
    local = starts_at.astimezone(quiet.zone)
    day_before = local_instant(local.date() - timedelta(days=days), local.time(), quiet.zone)
    return latest_allowed(day_before - timedelta(minutes=minutes), quiet)
