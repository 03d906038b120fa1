"""Weekly working hours, schedule exceptions, and the working intervals they make."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Date,
    DateTime,
    Integer,
    String,
    Time,
    Uuid,
    bindparam,
    delete,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic import intervals
from services.clinic.intervals import Interval
from services.clinic.locations import get_location
from services.clinic.models import (
    Location,
    LocationClosure,
    PractitionerLocation,
    ScheduleException,
    WorkingHours,
)
from services.clinic.practitioners import get_practitioner
from services.clinic.schemas import ScheduleExceptionCreate, WorkingHoursIn, WorkingHoursSet
from services.clinic.types import ExceptionKind
from services.core import audit
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound, ValidationFailed
from services.core.pagination import PageParams

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Dates beyond these are typing mistakes, and near year 1 or 9999 a zone offset would
# overflow Python's datetime.
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)


def _field_error(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


async def _require_works_at(
    session: AsyncSession, practitioner_id: uuid.UUID, location_id: uuid.UUID, loc: list[str | int]
) -> Location:
    location = await get_location(session, location_id)
    pair = await session.get(PractitionerLocation, (practitioner_id, location_id))
    if pair is None:
        raise ValidationFailed(
            "The practitioner does not work at this location; add it to their locations first.",
            errors=[_field_error(loc, "the practitioner does not work here", "not_their_location")],
        )
    return location


def _span(block: WorkingHours | WorkingHoursIn) -> str:
    return f"{WEEKDAYS[block.weekday]} {block.start_time:%H:%M}-{block.end_time:%H:%M}"


def _check_own_overlaps(hours: list[WorkingHoursIn]) -> None:
    errors = []
    for index, block in enumerate(hours):
        if block.start_time >= block.end_time:
            errors.append(
                _field_error(
                    ["body", "hours", index, "end_time"], "must be after start_time", "order"
                )
            )
    ordered = sorted(enumerate(hours), key=lambda item: (item[1].weekday, item[1].start_time))
    for (_, first), (index, second) in itertools.pairwise(ordered):
        if first.weekday == second.weekday and second.start_time < first.end_time:
            errors.append(
                _field_error(
                    ["body", "hours", index],
                    f"overlaps {_span(first)} in the same request",
                    "overlap",
                )
            )
    if errors:
        raise ValidationFailed("Some working hours are not valid.", errors=errors)


async def list_working_hours(
    session: AsyncSession, practitioner_id: uuid.UUID, *, location_id: uuid.UUID | None
) -> Sequence[WorkingHours]:
    await get_practitioner(session, practitioner_id)
    query = select(WorkingHours).where(WorkingHours.practitioner_id == practitioner_id)
    if location_id is not None:
        query = query.where(WorkingHours.location_id == location_id)
    query = query.order_by(WorkingHours.weekday, WorkingHours.start_time, WorkingHours.id)
    return (await session.scalars(query)).all()


async def _clash_description(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    location_id: uuid.UUID,
    hours: list[WorkingHoursIn],
) -> str:
    others = (
        await session.execute(
            select(WorkingHours, Location.name)
            .join(Location, Location.id == WorkingHours.location_id)
            .where(
                WorkingHours.practitioner_id == practitioner_id,
                WorkingHours.location_id != location_id,
            )
        )
    ).all()
    for block in hours:
        for other, place in others:
            if (
                other.weekday == block.weekday
                and other.start_time < block.end_time
                and block.start_time < other.end_time
            ):
                return f"{_span(block)} overlaps {_span(other)} at {place}."
    # Another request changed the hours between the check and the insert.
    return "These hours overlap hours saved at the same moment; reload and try again."


async def replace_working_hours(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    data: WorkingHoursSet,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> Sequence[WorkingHours]:
    """The whole weekly set at one location, in one transaction.

    Overlaps with the practitioner's hours at other locations are refused by the database's
    exclusion constraint (the only check that holds under concurrent writes); the 409 then
    names the clash.
    """
    await get_practitioner(session, practitioner_id, for_update=True)
    await _require_works_at(session, practitioner_id, data.location_id, ["body", "location_id"])
    _check_own_overlaps(data.hours)
    try:
        async with session.begin_nested():
            await session.execute(
                delete(WorkingHours).where(
                    WorkingHours.practitioner_id == practitioner_id,
                    WorkingHours.location_id == data.location_id,
                )
            )
            session.add_all(
                WorkingHours(
                    practitioner_id=practitioner_id,
                    location_id=data.location_id,
                    weekday=block.weekday,
                    start_time=block.start_time,
                    end_time=block.end_time,
                )
                for block in data.hours
            )
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != "23P01":
            raise
        detail = await _clash_description(session, practitioner_id, data.location_id, data.hours)
        raise Conflict(detail, conflict="working_hours") from None
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="replace_working_hours",
        resource_type="practitioner",
        resource_id=practitioner_id,
        client=client,
        detail={"fields": ["hours"], "location_id": str(data.location_id)},
    )
    return await list_working_hours(session, practitioner_id, location_id=data.location_id)


def _check_date_range(start: date, end: date, loc: str) -> None:
    if start < EARLIEST or end > LATEST:
        raise ValidationFailed(
            "Dates must fall between 1900 and 2200.",
            errors=[_field_error(["body", loc], "out of range", "date_range")],
        )
    if end < start:
        raise ValidationFailed(
            "end_date must not be before start_date.",
            errors=[_field_error(["body", "end_date"], "before start_date", "order")],
        )


async def _zone_for_dates(
    session: AsyncSession, practitioner_id: uuid.UUID, location: Location | None
) -> ZoneInfo:
    if location is not None:
        return ZoneInfo(location.time_zone)
    zones = set(
        (
            await session.scalars(
                select(Location.time_zone)
                .join(PractitionerLocation, PractitionerLocation.location_id == Location.id)
                .where(PractitionerLocation.practitioner_id == practitioner_id)
            )
        ).all()
    )
    if len(zones) != 1:
        raise ValidationFailed(
            "Give location_id, so the dates can be read in that location's time zone.",
            errors=[_field_error(["body", "location_id"], "needed to read the dates", "missing")],
        )
    return ZoneInfo(zones.pop())


def _instants(data: ScheduleExceptionCreate) -> tuple[datetime, datetime] | None:
    """The instants given, None when whole dates were given instead (422 for a mix)."""
    instants = (data.starts_at, data.ends_at)
    dates = (data.start_date, data.end_date)
    if None not in instants and dates == (None, None):
        assert data.starts_at is not None and data.ends_at is not None
        return data.starts_at.astimezone(UTC), data.ends_at.astimezone(UTC)
    if instants == (None, None) and None not in dates:
        return None
    raise ValidationFailed(
        "Give either starts_at and ends_at, or start_date and end_date.",
        errors=[_field_error(["body"], "give one pair of bounds", "bounds")],
    )


async def create_exception(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    data: ScheduleExceptionCreate,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> ScheduleException:
    await get_practitioner(session, practitioner_id)
    location = None
    if data.location_id is not None:
        location = await _require_works_at(
            session, practitioner_id, data.location_id, ["body", "location_id"]
        )
    elif data.kind is ExceptionKind.extra_hours:
        raise ValidationFailed(
            "Extra hours need a location_id.",
            errors=[_field_error(["body", "location_id"], "required for extra hours", "missing")],
        )
    bounds = _instants(data)
    if bounds is None:
        assert data.start_date is not None and data.end_date is not None
        _check_date_range(data.start_date, data.end_date, "start_date")
        zone = await _zone_for_dates(session, practitioner_id, location)
        bounds = intervals.local_day_window(data.start_date, data.end_date, zone)
    starts_at, ends_at = bounds
    if starts_at.date() < EARLIEST or ends_at.date() > LATEST:
        raise ValidationFailed(
            "Times must fall between 1900 and 2200.",
            errors=[_field_error(["body", "starts_at"], "out of range", "date_range")],
        )
    if starts_at >= ends_at:
        raise ValidationFailed(
            "ends_at must be after starts_at.",
            errors=[_field_error(["body", "ends_at"], "must be after starts_at", "order")],
        )
    exception = ScheduleException(
        practitioner_id=practitioner_id,
        location_id=data.location_id,
        kind=data.kind.value,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=data.reason,
    )
    session.add(exception)
    await session.flush()
    await session.refresh(exception)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="schedule_exception",
        resource_id=exception.id,
        client=client,
        detail={"fields": sorted(data.model_fields_set), "kind": exception.kind},
    )
    return exception


async def list_exceptions(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    page: PageParams,
    *,
    at_from: datetime | None,
    at_to: datetime | None,
) -> Sequence[ScheduleException]:
    """Exceptions that overlap [at_from, at_to), earliest first."""
    await get_practitioner(session, practitioner_id)
    query = select(ScheduleException).where(ScheduleException.practitioner_id == practitioner_id)
    if at_from is not None:
        query = query.where(ScheduleException.ends_at > at_from)
    if at_to is not None:
        query = query.where(ScheduleException.starts_at < at_to)
    query = query.order_by(ScheduleException.starts_at, ScheduleException.id)
    return (await session.scalars(page.apply(query))).all()


async def delete_exception(
    session: AsyncSession, exception_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    exception = await session.get(ScheduleException, exception_id, with_for_update=True)
    if exception is None:
        raise NotFound("No schedule exception with this id.")
    await session.delete(exception)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="delete",
        resource_type="schedule_exception",
        resource_id=exception_id,
        client=client,
        detail={"kind": exception.kind},
    )


WEEKLY = "weekly"  # the kind of a weekly-hours row next to the exceptions'
CLOSED = "closed"  # and of a closure of the location


def _hours_and_exceptions() -> CompoundSelect[Any]:
    """The weekly hours, the exceptions and the location's closures of any number of
    practitioners in one round trip: each row is one of them, with its practitioner (none
    for a closure: it is everyone's).

    Built once: constructing a statement costs more Python than running a cached one."""
    practitioner_ids: BindParameter[list[uuid.UUID]] = bindparam(
        "practitioner_ids", type_=Uuid, expanding=True
    )
    location_id: BindParameter[uuid.UUID] = bindparam("location_id", type_=Uuid)
    weekly_rows = select(
        literal(WEEKLY, String).label("kind"),
        WorkingHours.practitioner_id,
        WorkingHours.weekday,
        WorkingHours.start_time,
        WorkingHours.end_time,
        null().cast(DateTime(timezone=True)).label("starts_at"),
        null().cast(DateTime(timezone=True)).label("ends_at"),
        null().cast(Uuid).label("location_id"),
        null().cast(Date).label("first_date"),
        null().cast(Date).label("last_date"),
    ).where(
        WorkingHours.practitioner_id.in_(practitioner_ids),
        WorkingHours.location_id == location_id,
    )
    exception_rows = select(
        ScheduleException.kind,
        ScheduleException.practitioner_id,
        null().cast(Integer),
        null().cast(Time),
        null().cast(Time),
        ScheduleException.starts_at,
        ScheduleException.ends_at,
        ScheduleException.location_id,
        null().cast(Date),
        null().cast(Date),
    ).where(
        ScheduleException.practitioner_id.in_(practitioner_ids),
        ScheduleException.starts_at < bindparam("window_end"),
        ScheduleException.ends_at > bindparam("window_start"),
        (ScheduleException.location_id == location_id) | ScheduleException.location_id.is_(None),
    )
    closure_rows = select(
        literal(CLOSED, String),
        null().cast(Uuid),
        null().cast(Integer),
        null().cast(Time),
        null().cast(Time),
        null().cast(DateTime(timezone=True)),
        null().cast(DateTime(timezone=True)),
        LocationClosure.location_id,
        LocationClosure.start_date,
        LocationClosure.end_date,
    ).where(
        LocationClosure.location_id == location_id,
        LocationClosure.start_date <= bindparam("last_date", type_=Date),
        LocationClosure.end_date >= bindparam("first_date", type_=Date),
    )
    return union_all(weekly_rows, exception_rows, closure_rows)


_HOURS_AND_EXCEPTIONS = _hours_and_exceptions()


async def working_intervals(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    location_id: uuid.UUID,
    start_date: date,
    end_date: date,
) -> list[Interval]:
    """When the practitioner works at the location on the local dates [start_date, end_date].

    UTC intervals, sorted and merged: the weekly hours read in the location's time zone for
    each date, plus extra hours there, minus time off (there or everywhere), minus the days
    the location is closed. Whether the practitioner or location is active is the caller's
    concern.
    """
    found = await working_intervals_of(
        session, [practitioner_id], location_id, start_date, end_date
    )
    return found[practitioner_id]


async def working_intervals_of(
    session: AsyncSession,
    practitioner_ids: Sequence[uuid.UUID],
    location_id: uuid.UUID,
    start_date: date,
    end_date: date,
) -> dict[uuid.UUID, list[Interval]]:
    """``working_intervals`` of each practitioner, in one statement whatever their number
    ("first available" asks about every practitioner of a location)."""
    location = await get_location(session, location_id)
    zone = ZoneInfo(location.time_zone)
    window = intervals.local_day_window(start_date, end_date, zone)
    rows = (
        await session.execute(
            _HOURS_AND_EXCEPTIONS,
            {
                "practitioner_ids": list(practitioner_ids),
                "location_id": location_id,
                "window_start": window[0],
                "window_end": window[1],
                "first_date": start_date,
                "last_date": end_date,
            },
        )
    ).all()
    closed = [intervals.local_day_window(r[8], r[9], zone) for r in rows if r[0] == CLOSED]
    found: dict[uuid.UUID, list[Interval]] = {}
    for practitioner_id in practitioner_ids:
        mine = [r for r in rows if r[1] == practitioner_id]
        weekly = [(r[2], r[3], r[4]) for r in mine if r[0] == WEEKLY]
        # The driver hands back instants in the server's zone; everything here speaks UTC.
        extra = [
            (r[5].astimezone(UTC), r[6].astimezone(UTC))
            for r in mine
            if r[0] == ExceptionKind.extra_hours and r[7] == location_id
        ]
        time_off = [
            (r[5].astimezone(UTC), r[6].astimezone(UTC))
            for r in mine
            if r[0] == ExceptionKind.time_off
        ]
        working = intervals.weekly_to_utc(weekly, zone, start_date, end_date)
        working = intervals.merge([*working, *intervals.clip(extra, window)])
        found[practitioner_id] = intervals.subtract(working, [*time_off, *closed])
    return found
