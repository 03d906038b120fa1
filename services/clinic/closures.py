"""Days a location is closed: public holidays, a clinic week off.

Whole local dates, kept by the admin. ``hours.working_intervals`` subtracts them from
everyone's hours there, so availability, bookings and care-plan series all see them; the
database keeps one location's closures from overlapping (exclusion constraint).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.hours import EARLIEST, LATEST
from services.clinic.locations import get_location
from services.clinic.models import LocationClosure
from services.clinic.schemas import ClosureCreate
from services.core import audit
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound, ValidationFailed
from services.core.pagination import PageParams

LONGEST = timedelta(days=365)
RESOURCE = "location_closure"


def _refuse(field: str, message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[{"loc": ["body", field], "msg": message, "type": kind}]
    )


def _check(data: ClosureCreate) -> None:
    if data.start_date < EARLIEST or data.end_date > LATEST:
        raise _refuse("start_date", "Dates must fall between 1900 and 2200.", "date_range")
    if data.end_date < data.start_date:
        raise _refuse("end_date", "end_date must not be before start_date.", "order")
    if data.end_date - data.start_date > LONGEST:
        raise _refuse("end_date", "A closure lasts at most a year; add another.", "too_long")


def describe_closure(closure: LocationClosure) -> str:
    """ "2026-12-25 (Christmas Day)" or "2026-12-24 to 2026-12-31 (Holidays)"."""
    days = f"{closure.start_date:%Y-%m-%d}"
    if closure.end_date != closure.start_date:
        days += f" to {closure.end_date:%Y-%m-%d}"
    return f"{days} ({closure.reason})"


async def closures_between(
    session: AsyncSession, location_id: uuid.UUID, first: date, last: date
) -> Sequence[LocationClosure]:
    """The location's closures that touch the dates [first, last], earliest first."""
    query = (
        select(LocationClosure)
        .where(
            LocationClosure.location_id == location_id,
            LocationClosure.start_date <= last,
            LocationClosure.end_date >= first,
        )
        .order_by(LocationClosure.start_date)
    )
    return (await session.scalars(query)).all()


def closed_dates(closures: Iterable[LocationClosure]) -> dict[date, LocationClosure]:
    """Each closed date, with the closure it falls in."""
    found: dict[date, LocationClosure] = {}
    for closure in closures:
        day = closure.start_date
        while day <= closure.end_date:
            found[day] = closure
            day += timedelta(days=1)
    return found


async def list_closures(
    session: AsyncSession,
    location_id: uuid.UUID,
    page: PageParams,
    *,
    from_date: date | None,
    to_date: date | None,
) -> Sequence[LocationClosure]:
    """Closures touching [from_date, to_date] (either bound may be left out), earliest first."""
    await get_location(session, location_id)
    query = select(LocationClosure).where(LocationClosure.location_id == location_id)
    if from_date is not None:
        query = query.where(LocationClosure.end_date >= from_date)
    if to_date is not None:
        query = query.where(LocationClosure.start_date <= to_date)
    query = query.order_by(LocationClosure.start_date, LocationClosure.id)
    return (await session.scalars(page.apply(query))).all()


async def create_closure(
    session: AsyncSession,
    location_id: uuid.UUID,
    data: ClosureCreate,
    *,
    actor: Principal,
    client: ClientInfo,
) -> LocationClosure:
    """A new closure; 409 naming the closure it would overlap (the constraint decides)."""
    await get_location(session, location_id)
    _check(data)
    closure = LocationClosure(location_id=location_id, **data.model_dump())
    try:
        async with session.begin_nested():
            session.add(closure)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != "23P01":
            raise
        clash = await closures_between(session, location_id, data.start_date, data.end_date)
        if not clash:  # removed again by the time we looked: the moment has passed
            raise Conflict(
                "A closure of these days was saved at the same moment; reload and try again.",
                conflict="closure",
            ) from None
        raise Conflict(
            f"The location is already closed on some of these days: {describe_closure(clash[0])}.",
            conflict="closure",
            clashing_closure_id=str(clash[0].id),
        ) from None
    await session.refresh(closure)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="create",
        resource_type=RESOURCE,
        resource_id=closure.id,
        client=client,
        detail={"location_id": str(location_id)},
    )
    return closure


async def delete_closure(
    session: AsyncSession, closure_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    closure = await session.get(LocationClosure, closure_id, with_for_update=True)
    if closure is None:
        raise NotFound("No closure with this id.")
    await session.delete(closure)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="delete",
        resource_type=RESOURCE,
        resource_id=closure_id,
        client=client,
        detail={"location_id": str(closure.location_id)},
    )
