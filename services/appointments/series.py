"""Care-plan series: "Mon/Wed/Fri 09:00 for 4 weeks with Dr. X", booked in one request.

All-or-nothing books every occurrence or none (409 with the report); book-what-fits books
those that fit and reports the rest. Either way each occurrence that could not be booked
says why and offers the free start nearest the asked time that day.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import booking, lifecycle
from services.appointments.availability import Need, find_slots
from services.appointments.events import Booked
from services.appointments.models import Appointment, AppointmentSeries
from services.appointments.schemas import (
    AppointmentOut,
    Cancel,
    Occurrence,
    SeriesCancel,
    SeriesCreate,
    SeriesMode,
    SeriesMove,
    SeriesOut,
)
from services.appointments.service import (
    MOVABLE,
    get_appointment,
    move,
    out,
    patient_of,
    record,
)
from services.clinic.service import closed_dates, closures_between, local_instant
from services.core import clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import AppError, Conflict, NotFound, ValidationFailed
from services.core.events import announce


def occurrence_dates(start: date, weeks: int, weekdays: list[int]) -> list[date]:
    days = set(weekdays)
    return [
        start + timedelta(days=n)
        for n in range(weeks * 7)
        if (start + timedelta(days=n)).weekday() in days
    ]


async def nearest_free(
    session: AsyncSession, spot: booking.Place, now: datetime
) -> datetime | None:
    """The bookable start on the same local day closest to the asked one."""
    zone = spot.zone
    day = spot.starts_at.astimezone(zone).date()
    window = (
        max(local_instant(day, time(0), zone), now),
        local_instant(day + timedelta(days=1), time(0), zone),
    )
    slots = await find_slots(
        session,
        need=Need.of(spot.kind),
        practitioner_ids=[spot.practitioner.id],
        location_id=spot.location.id,
        zone=zone,
        window=window,
        grid=timedelta(minutes=5),
    )
    if not slots:
        return None
    best = min(slots, key=lambda s: abs(s.starts_at - spot.starts_at))
    return best.starts_at.astimezone(zone)


async def _report(
    session: AsyncSession, spot: booking.Place, error: AppError, now: datetime
) -> Occurrence:
    zone = spot.zone
    return Occurrence(
        date=spot.starts_at.astimezone(zone).date(),
        starts_at=spot.starts_at.astimezone(zone),
        outcome="conflict" if isinstance(error, Conflict) else "unavailable",
        problem=error.detail,
        clashing_appointment_id=error.extra.get("clashing_appointment_id"),
        nearest_free=await nearest_free(session, spot, now),
    )


# An occurrence on a day the location is closed is left out of the plan, not a failure: a
# Mon/Wed/Fri plan over the holidays books the open days, even all-or-nothing.
BOOKED, CLOSED = "booked", "closed"


def _refused(mode: SeriesMode, occurrences: list[Occurrence], what: str) -> Conflict:
    wanted = [o for o in occurrences if o.outcome != CLOSED]
    failed = sum(1 for o in wanted if o.outcome != BOOKED)
    return Conflict(
        f"{failed} of {len(wanted)} occurrences cannot be {what}; nothing was changed.",
        mode=mode.value,
        occurrences=[o.model_dump(mode="json") for o in occurrences],
    )


async def create_series(
    session: AsyncSession, data: SeriesCreate, *, actor: Principal, client: ClientInfo
) -> SeriesOut:
    found = await booking.parties(session, data, actor=actor, client=client)
    series = AppointmentSeries(
        patient_id=found.patient_id,
        practitioner_id=found.practitioner.id,
        location_id=found.location.id,
        appointment_type_id=found.kind.id,
        start_date=data.start_date,
        weeks=data.weeks,
        weekdays=sorted(set(data.weekdays)),
        local_time=data.time,
        mode=data.mode.value,
        created_by=actor.user_id,
    )
    session.add(series)
    await session.flush()
    zone = ZoneInfo(found.location.time_zone)
    now = clock.utcnow()
    occurrences: list[Occurrence] = []
    days = occurrence_dates(data.start_date, data.weeks, data.weekdays)
    closed = closed_dates(
        await closures_between(session, found.location.id, days[0], days[-1]) if days else []
    )
    for day in days:
        if day in closed:
            occurrences.append(
                Occurrence(
                    date=day,
                    starts_at=local_instant(day, data.time, zone).astimezone(zone),
                    outcome=CLOSED,
                    problem=f"{found.location.name} is closed: {closed[day].reason}.",
                )
            )
            continue
        spot = booking.Place(
            patient_id=found.patient_id,
            practitioner=found.practitioner,
            location=found.location,
            kind=found.kind,
            starts_at=local_instant(day, data.time, zone),
            series_id=series.id,
        )
        try:
            row = await booking.place(
                session, spot, actor_id=actor.user_id, now=now, detail={"series_id": str(series.id)}
            )
        except (Conflict, ValidationFailed) as error:
            occurrences.append(await _report(session, spot, error, now))
            continue
        # One confirmation for a care plan (its first visit), not one text per visit.
        first = not any(o.outcome == BOOKED for o in occurrences)
        await announce(session, Booked(row, confirm=first))
        await record(session, actor, client, "create", row, {"series_id": str(series.id)})
        occurrences.append(
            Occurrence(
                date=day,
                starts_at=row.starts_at.astimezone(zone),
                outcome=BOOKED,
                appointment_id=row.id,
            )
        )
    booked = sum(1 for o in occurrences if o.outcome == BOOKED)
    wanted = sum(1 for o in occurrences if o.outcome != CLOSED)
    if booked == 0 or (data.mode is SeriesMode.all_or_nothing and booked < wanted):
        raise _refused(data.mode, occurrences, "booked")
    return SeriesOut(id=series.id, mode=data.mode, booked=booked, occurrences=occurrences)


async def _following(
    session: AsyncSession,
    series_id: uuid.UUID,
    from_id: uuid.UUID,
    *,
    actor: Principal,
    client: ClientInfo,
) -> list[Appointment]:
    """The occurrence named and the later ones that can still change, locked, in order."""
    if await session.get(AppointmentSeries, series_id) is None:
        raise NotFound("No appointment series with this id.")
    first = await get_appointment(session, from_id, actor=actor, client=client, action="")
    if first.series_id != series_id:
        raise ValidationFailed(
            "That appointment is not part of this series.",
            errors=[
                {
                    "loc": ["body", "from_appointment_id"],
                    "msg": "not in this series",
                    "type": "value_error",
                }
            ],
        )
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.series_id == series_id,
            Appointment.starts_at >= first.starts_at,
            Appointment.status.in_([s.value for s in MOVABLE]),
        )
        .order_by(Appointment.starts_at)
        .with_for_update()
    )
    return list(rows)


async def cancel_following(
    session: AsyncSession,
    series_id: uuid.UUID,
    data: SeriesCancel,
    *,
    actor: Principal,
    client: ClientInfo,
) -> list[AppointmentOut]:
    rows = await _following(
        session, series_id, data.from_appointment_id, actor=actor, client=client
    )
    now = clock.utcnow()
    cancel = Cancel(reason=data.reason, note=data.note)
    for position, row in enumerate(rows):
        await lifecycle.cancel_one(
            session, row, cancel, actor=actor, client=client, now=now, notify=position == 0
        )
    return [await out(session, row) for row in rows]


async def move_following(
    session: AsyncSession,
    series_id: uuid.UUID,
    data: SeriesMove,
    *,
    actor: Principal,
    client: ClientInfo,
) -> SeriesOut:
    """Move the occurrence named and every later one to a new local time (all or nothing)."""
    rows = await _following(
        session, series_id, data.from_appointment_id, actor=actor, client=client
    )
    practitioner_id = data.practitioner_id
    now = clock.utcnow()
    occurrences: list[Occurrence] = []
    for row in rows:
        practitioner = await booking.bookable_practitioner(
            session, practitioner_id or row.practitioner_id
        )
        location = await booking.location_for(session, practitioner, row.location_id)
        zone = ZoneInfo(location.time_zone)
        day = row.starts_at.astimezone(zone).date()
        spot = booking.Place(
            patient_id=patient_of(row),
            practitioner=practitioner,
            location=location,
            kind=await booking.bookable_type(session, row.appointment_type_id),
            starts_at=local_instant(day, data.time, zone),
            note=row.note,
            series_id=series_id,
        )
        try:
            async with session.begin_nested():
                new = await move(
                    session, row, spot, actor=actor, client=client, confirm=not occurrences
                )
        except (Conflict, ValidationFailed) as error:
            occurrences.append(await _report(session, spot, error, now))
            continue
        occurrences.append(
            Occurrence(
                date=day,
                starts_at=new.starts_at.astimezone(zone),
                outcome=BOOKED,
                appointment_id=new.id,
            )
        )
    if any(o.outcome != BOOKED for o in occurrences):
        raise _refused(SeriesMode.all_or_nothing, occurrences, "moved")
    return SeriesOut(
        id=series_id,
        mode=SeriesMode.all_or_nothing,
        booked=len(occurrences),
        occurrences=occurrences,
    )
