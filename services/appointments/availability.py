"""Bookable start times: working hours minus busy time, on a local grid, with a free room.

A start ``s`` is offered when the visit ``[s, s + duration)`` lies inside the practitioner's
working hours at the location, the time it holds ``[s - buffer_before, s + duration +
buffer_after)`` touches none of their appointments that still hold time, and (when the type
needs a room) a room of that kind is free for the same held time. These are the same rules
the booking path and the exclusion constraints apply, so an offered slot books unless
someone takes it first.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Select, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import FREED, Appointment, holds_time
from services.appointments.schemas import Availability, Slot
from services.clinic.service import (
    AppointmentType,
    Interval,
    Location,
    Room,
    booking_setup,
    clip,
    default_location,
    get_appointment_type,
    get_location,
    get_practitioner,
    merge,
    practitioners_at,
    rooms_of_kind,
    working_intervals_of,
    works_at,
)
from services.core import clock
from services.core.errors import ValidationFailed
from services.core.settings import Settings

# Visits are shorter than a day (8 h plus buffers of at most 2 h each side), so every
# appointment that touches a window starts within a day of it: the bound that lets an
# overlap query use the (owner, starts_at) b-tree index.
REACH = timedelta(days=1)
# Rooms whose busy time is read in the first batch (a small clinic's all), then 3x as many.
FIRST_ROOMS = 3


@dataclass(frozen=True)
class Need:
    """What one visit of an appointment type takes."""

    duration: timedelta
    before: timedelta
    after: timedelta
    room_kind: str | None

    @classmethod
    def of(cls, kind: AppointmentType) -> Need:
        return cls(
            duration=timedelta(minutes=kind.duration_minutes),
            before=timedelta(minutes=kind.buffer_before_minutes),
            after=timedelta(minutes=kind.buffer_after_minutes),
            room_kind=kind.room_kind,
        )

    def visit(self, start: datetime) -> Interval:
        return (start, start + self.duration)

    def held(self, start: datetime) -> Interval:
        return (start - self.before, start + self.duration + self.after)


class Busy:
    """Sorted, merged busy intervals with an O(log n) overlap test."""

    def __init__(self, found: Iterable[Interval]) -> None:
        self.intervals = merge(found)
        self._starts = [start for start, _ in self.intervals]

    def is_free(self, interval: Interval) -> bool:
        start, end = interval
        i = bisect.bisect_right(self._starts, start) - 1
        if i >= 0 and self.intervals[i][1] > start:
            return False
        nxt = i + 1
        return nxt >= len(self.intervals) or self.intervals[nxt][0] >= end

    def free_during(self, helds: Sequence[Interval]) -> list[bool]:
        """``is_free`` of each interval, for intervals in order of their start: one walk
        over both lists (an availability week asks a room about hundreds of intervals)."""
        intervals, at, count = self.intervals, 0, len(self.intervals)
        free: list[bool] = []
        for start, end in helds:
            # Busy time that ends by this start ends by every later start too.
            while at < count and intervals[at][1] <= start:
                at += 1
            free.append(at == count or intervals[at][0] >= end)
        return free


@lru_cache(maxsize=2)
def _busy_query(column: str) -> Select[uuid.UUID, datetime, datetime]:
    # Built once: constructing a statement costs more Python than running a cached one.
    owner = getattr(Appointment, column)
    return select(owner, Appointment.held_from, Appointment.held_until).where(
        owner.in_(bindparam("owners", expanding=True)),
        Appointment.starts_at > bindparam("starts_after"),
        Appointment.starts_at < bindparam("starts_before"),
        Appointment.held_until > bindparam("window_start"),
        Appointment.held_from < bindparam("window_end"),
        Appointment.status.not_in(FREED),
    )


async def busy_times(
    session: AsyncSession,
    column: str,
    owner_ids: Sequence[uuid.UUID],
    window: Interval,
) -> dict[uuid.UUID, Busy]:
    """Time held by appointments of each practitioner (or room) that overlap ``window``."""
    rows = await session.execute(
        _busy_query(column),
        {
            "owners": list(owner_ids),
            "starts_after": window[0] - REACH,
            "starts_before": window[1] + REACH,
            "window_start": window[0],
            "window_end": window[1],
        },
    )
    found: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    for owner_id, start, end in rows:
        found[owner_id].append((start, end))  # aware instants compare correctly in any zone
    return {owner_id: Busy(found.get(owner_id, [])) for owner_id in owner_ids}


def grid_starts(interval: Interval, grid: timedelta, zone: ZoneInfo) -> Iterable[datetime]:
    """Instants in ``interval`` on the local wall-clock grid (09:00, 09:10, …)."""
    start, end = interval
    local = start.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    step = int(grid.total_seconds() // 60)
    skip = (-minutes) % step
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=skip)
    if first < start:
        first += grid
    current = first
    while current < end:
        yield current
        current += grid


@dataclass(frozen=True)
class Candidate:
    starts_at: datetime
    practitioner_id: uuid.UUID
    room_id: uuid.UUID | None


def _first_free_room() -> Select[uuid.UUID]:
    taken = exists().where(
        Appointment.room_id == Room.id,
        Appointment.held.op("&&")(
            func.tstzrange(
                bindparam("held_from", type_=DateTime(timezone=True)),
                bindparam("held_until", type_=DateTime(timezone=True)),
                "[)",
            )
        ),
        holds_time(),
    )
    return (
        select(Room.id)
        .where(
            Room.location_id == bindparam("location_id"),
            Room.kind == bindparam("kind"),
            Room.is_active.is_(True),
            ~taken,
        )
        .order_by(Room.name, Room.id)
        .limit(1)
    )


_FIRST_FREE_ROOM = _first_free_room()  # built once, as ``_busy_query``


async def first_free_room(
    session: AsyncSession, location_id: uuid.UUID, kind: str, held: Interval
) -> uuid.UUID | None:
    """The first active room of ``kind`` (name order) that nothing holds during ``held``,
    in one statement (the room exclusion constraint's index answers the NOT EXISTS)."""
    params = {"location_id": location_id, "kind": kind, "held_from": held[0], "held_until": held[1]}
    return await session.scalar(_FIRST_FREE_ROOM, params)


async def free_rooms(
    session: AsyncSession, location_id: uuid.UUID, kind: str, helds: Sequence[Interval]
) -> list[uuid.UUID | None]:
    """For each held interval, the first room of ``kind`` (name order) free all through it;
    None where every one is taken.

    Rooms are read in growing batches (3, 9, 27, … rooms), each batch's busy time over the
    span of the intervals by the ``(room_id, starts_at)`` index, and only for the intervals
    no earlier room could take. Usually the first room or two answer everything, so the
    cost follows the rooms needed, not how many rooms and appointments there are.
    """
    found: list[uuid.UUID | None] = [None] * len(helds)
    if not helds:
        return found
    room_ids = await rooms_of_kind(session, location_id, kind)
    span = (min(h[0] for h in helds), max(h[1] for h in helds))
    pending = sorted(range(len(helds)), key=lambda n: helds[n][0])  # the walk's order
    done, size = 0, FIRST_ROOMS
    while pending and done < len(room_ids):
        batch = room_ids[done : done + size]
        done, size = done + size, size * 3
        busy = await busy_times(session, "room_id", batch, span)
        for room in batch:  # in choice order: each interval takes the first room free
            free = busy[room].free_during([helds[n] for n in pending])
            for n, is_free in zip(pending, free, strict=True):
                if is_free:
                    found[n] = room
            pending = [n for n, is_free in zip(pending, free, strict=True) if not is_free]
            if not pending:
                break
    return found


async def find_slots(
    session: AsyncSession,
    *,
    need: Need,
    practitioner_ids: Sequence[uuid.UUID],
    location_id: uuid.UUID,
    zone: ZoneInfo,
    window: Interval,
    grid: timedelta,
    first_only: bool = False,
) -> list[Candidate]:
    """Every bookable start in ``window`` (UTC instants), earliest first."""
    if window[0] >= window[1] or not practitioner_ids:
        return []
    start_date = window[0].astimezone(zone).date()
    end_date = window[1].astimezone(zone).date()
    wide = (window[0] - need.before, window[1] + need.duration + need.after)
    busy = await busy_times(session, "practitioner_id", practitioner_ids, wide)
    hours = await working_intervals_of(session, practitioner_ids, location_id, start_date, end_date)
    found: list[Candidate] = []
    for practitioner_id in practitioner_ids:
        working = hours[practitioner_id]
        found.extend(
            Candidate(start, practitioner_id, None)
            for start in _starts(working, window, need, grid, zone, busy[practitioner_id])
        )
    found.sort(key=lambda c: (c.starts_at, str(c.practitioner_id)))
    if need.room_kind is not None:
        found = await _with_rooms(session, location_id, need, found, first_only)
    return found[:1] if first_only else found


async def _with_rooms(
    session: AsyncSession,
    location_id: uuid.UUID,
    need: Need,
    found: list[Candidate],
    first_only: bool,
) -> list[Candidate]:
    """Keep the candidates for which a room of the kind is free; name it."""
    assert need.room_kind is not None
    # The first answer usually comes early: ask about a small batch first.
    batch = 16 if first_only else max(len(found), 1)
    kept: list[Candidate] = []
    for at in range(0, len(found), batch):
        part = found[at : at + batch]
        starts = sorted({c.starts_at for c in part})
        rooms = await free_rooms(
            session, location_id, need.room_kind, [need.held(start) for start in starts]
        )
        room_at = dict(zip(starts, rooms, strict=True))
        kept.extend(
            Candidate(c.starts_at, c.practitioner_id, room_at[c.starts_at])
            for c in part
            if room_at[c.starts_at] is not None
        )
        if first_only and kept:
            break
    return kept


def _starts(
    working: list[Interval],
    window: Interval,
    need: Need,
    grid: timedelta,
    zone: ZoneInfo,
    busy: Busy,
) -> Iterator[datetime]:
    starts: list[datetime] = []
    for block in clip(working, (window[0], window[1] + need.duration)):
        for start in grid_starts(block, grid, zone):
            if start >= window[1] or need.visit(start)[1] > block[1]:
                break
            starts.append(start)
    # Blocks are sorted and disjoint, so the starts are in order: one walk answers them all.
    free = busy.free_during([need.held(start) for start in starts])
    return (start for start, is_free in zip(starts, free, strict=True) if is_free)


MAX_WINDOW = timedelta(days=31)


async def _where(
    session: AsyncSession, practitioner_id: uuid.UUID | None, location_id: uuid.UUID | None
) -> tuple[Location, list[uuid.UUID]]:
    """The location and practitioners to search, from what the caller named."""
    if practitioner_id is not None:
        practitioner = await get_practitioner(session, practitioner_id)
        places = await works_at(session, practitioner.id)
        if location_id is None and len(places) == 1:
            location_id = places[0]
        if location_id is not None and location_id not in places:
            location = await get_location(session, location_id)
            raise _query_error(
                "location_id", f"{practitioner.display_name} does not work at {location.name}."
            )
        if location_id is None:
            raise _query_error(
                "location_id", f"{practitioner.display_name} works at several locations; name one."
            )
        ids = [practitioner.id] if practitioner.is_active else []
        return await get_location(session, location_id), ids
    if location_id is not None:
        location = await get_location(session, location_id)
    else:
        found = await default_location(session)
        if found is None:
            raise _query_error("location_id", "There is no clinic location yet.")
        location = found
    return location, [p.id for p in await practitioners_at(session, location.id)]


def _query_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[{"loc": ["query", field], "msg": message, "type": "value_error"}]
    )


async def available(
    session: AsyncSession,
    settings: Settings,
    *,
    appointment_type_id: uuid.UUID,
    window: Interval,
    practitioner_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
    first: bool,
    grid_minutes: int,
) -> Availability:
    setup = (
        await booking_setup(session, practitioner_id, appointment_type_id, location_id)
        if practitioner_id is not None
        else []
    )
    if len(setup) == 1:  # the common case, one query: practitioner, type, location
        practitioner, kind, location = setup[0]
        practitioner_ids = [practitioner.id] if practitioner.is_active else []
    else:  # look at each part, for the precise 404 or 422
        kind = await get_appointment_type(session, appointment_type_id)
        location, practitioner_ids = await _where(session, practitioner_id, location_id)
    if window[1] <= window[0]:
        raise _query_error("to", "to must be after from.")
    if window[1] - window[0] > MAX_WINDOW:
        raise _query_error("to", "Ask for at most 31 days at a time.")
    zone = ZoneInfo(location.time_zone)
    earliest = clock.utcnow() + timedelta(minutes=settings.min_notice_minutes)
    need = Need.of(kind)
    slots = await find_slots(
        session,
        need=need,
        practitioner_ids=practitioner_ids if kind.is_active else [],
        location_id=location.id,
        zone=zone,
        window=(max(window[0].astimezone(UTC), earliest), window[1].astimezone(UTC)),
        grid=timedelta(minutes=grid_minutes),
        first_only=first,
    )
    return Availability(
        appointment_type_id=kind.id,
        location_id=location.id,
        time_zone=location.time_zone,
        slots=[
            Slot(
                starts_at=c.starts_at.astimezone(zone),
                ends_at=need.visit(c.starts_at)[1].astimezone(zone),
                practitioner_id=c.practitioner_id,
                room_id=c.room_id,
            )
            for c in slots
        ],
    )
