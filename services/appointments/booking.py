"""Putting a visit on the calendar: the checks that give friendly errors, then the insert
that the database's exclusion constraints accept or refuse.

The checks before the insert (working hours, a free room) can race with other requests;
the constraints cannot. A refused insert becomes a 409 naming the appointment it clashes
with. Every path that books time (a new booking, a reschedule, a care-plan series) goes
through ``place``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import String, Uuid, bindparam, case, func, literal, null, select
from sqlalchemy.dialects.postgresql import JSONB, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from services.appointments import holds
from services.appointments.availability import Need, first_free_room
from services.appointments.models import HELD, Appointment, StatusChange, holds_time
from services.appointments.waitlist import closing_entries
from services.clinic.service import (
    AppointmentType,
    Location,
    Practitioner,
    booking_setup,
    closures_between,
    describe_closure,
    get_appointment_type,
    get_location,
    get_practitioner,
    get_room,
    rooms_of_kind,
    working_intervals,
    works_at,
)
from services.core import clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, ValidationFailed
from services.patients import service as patients

# A walk-in is booked a few minutes after it began; anything earlier is a typing mistake.
PAST_GRACE = timedelta(minutes=15)
ROOM_ATTEMPTS = 3

# What each exclusion constraint guards: the column it compares, the span, who is named in
# the answer, and the stable ``conflict`` field clients read (constraint names stay inside).
_OWNER = {
    "ex_appointments_practitioner": ("practitioner_id", "held", "The practitioner", "practitioner"),
    "ex_appointments_room": ("room_id", "held", "The room", "room"),
    "ex_appointments_patient": ("patient_id", "during", "The patient", "patient"),
}


def field_error(field: str, message: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed(
        message, errors=[{"loc": ["body", field], "msg": message, "type": kind}]
    )


@dataclass(frozen=True)
class Place:
    """One visit to put on the calendar, with its parts already loaded."""

    patient_id: uuid.UUID | None  # None: a hold (``hold``), whose patient is not known yet
    practitioner: Practitioner
    location: Location
    kind: AppointmentType
    starts_at: datetime
    room_id: uuid.UUID | None = None  # None: choose a free room when the type needs one
    allow_overlap: bool = False
    note: str | None = None
    series_id: uuid.UUID | None = None
    source: str = "front_desk"  # models.SOURCES; a series' visits are "series" whatever

    @property
    def need(self) -> Need:
        return Need.of(self.kind)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.location.time_zone)


async def bookable_practitioner(session: AsyncSession, practitioner_id: uuid.UUID) -> Practitioner:
    practitioner = await get_practitioner(session, practitioner_id)
    if not practitioner.is_active:
        raise Conflict(f"{practitioner.display_name} is not taking appointments (inactive).")
    return practitioner


async def bookable_type(session: AsyncSession, type_id: uuid.UUID) -> AppointmentType:
    kind = await get_appointment_type(session, type_id)
    if not kind.is_active:
        raise Conflict(f"The appointment type {kind.name!r} is no longer offered (inactive).")
    return kind


async def location_for(
    session: AsyncSession, practitioner: Practitioner, location_id: uuid.UUID | None
) -> Location:
    """The location asked for (the practitioner must work there), or their only one."""
    places = await works_at(session, practitioner.id)
    if location_id is not None:
        location = await get_location(session, location_id)
        if location.id not in places:
            raise field_error(
                "location_id", f"{practitioner.display_name} does not work at {location.name}."
            )
        return location
    if len(places) != 1:
        raise field_error(
            "location_id",
            f"{practitioner.display_name} works at {len(places)} locations; name one.",
            "missing",
        )
    return await get_location(session, places[0])


@dataclass(frozen=True)
class Parties:
    """Who and what a booking names, loaded and checked.

    Holding the loaded rows keeps them in the session's identity map (it holds objects
    weakly), so what runs later in the booking's transaction (the answer, messaging's
    subscriber) finds the patient and the location without reading them again."""

    patient: patients.Patient
    practitioner: Practitioner
    kind: AppointmentType
    location: Location

    @property
    def patient_id(self) -> uuid.UUID:
        return self.patient.id


class Wanted(Protocol):
    """Who and what a booking or a series asks for (AppointmentCreate, SeriesCreate)."""

    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def practitioner_id(self) -> uuid.UUID: ...
    @property
    def appointment_type_id(self) -> uuid.UUID: ...
    @property
    def location_id(self) -> uuid.UUID | None: ...


async def parties(
    session: AsyncSession, wanted: Wanted, *, actor: Principal, client: ClientInfo
) -> Parties:
    """Unknown ids answer 404 before any rule is checked (inactive, archived, elsewhere)."""
    practitioner_id, type_id = wanted.practitioner_id, wanted.appointment_type_id
    location_id = wanted.location_id
    patient = await patients.get_patient(
        session, wanted.patient_id, actor=actor, client=client, action=""
    )
    found = await booking_setup(session, practitioner_id, type_id, location_id)
    if len(found) == 1 and found[0][0].is_active and found[0][1].is_active:
        practitioner, kind, location = found[0]
    else:  # look at each part, for the precise 404, 409 or 422
        practitioner = await bookable_practitioner(session, practitioner_id)
        kind = await bookable_type(session, type_id)
        location = await location_for(session, practitioner, location_id)
    if patient.status != "active":
        raise Conflict("This patient is archived; restore the record before booking.")
    return Parties(patient, practitioner, kind, location)


def local_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    return f"{a:%Y-%m-%d %H:%M}-{b:%H:%M}"


async def _check_time(session: AsyncSession, place: Place, now: datetime) -> None:
    start, end = place.need.visit(place.starts_at)
    if start < now - PAST_GRACE:
        raise field_error("starts_at", "This time is in the past.")
    zone = place.zone
    first = (start - timedelta(days=1)).astimezone(zone).date()
    last = end.astimezone(zone).date()
    working = await working_intervals(
        session, place.practitioner.id, place.location.id, first, last
    )
    if not any(ws <= start and end <= we for ws, we in working):
        # Only on a refusal: say so when the reason is a closed day, not the hours.
        closed = await closures_between(
            session, place.location.id, start.astimezone(zone).date(), last
        )
        if closed:
            raise field_error(
                "starts_at",
                f"{place.location.name} is closed on {describe_closure(closed[0])}.",
                "closed",
            )
        raise field_error(
            "starts_at",
            f"{place.practitioner.display_name} does not work at {place.location.name} for all"
            f" of {local_span(start, end, zone)}.",
        )


async def _check_room(session: AsyncSession, place: Place) -> None:
    if place.room_id is None:
        return
    room = await get_room(session, place.room_id)
    if room is None or room.location_id != place.location.id:
        raise field_error("room_id", f"No room with this id at {place.location.name}.")
    if not room.is_active:
        raise field_error("room_id", f"The room {room.name} is not in use (inactive).")
    if place.kind.room_kind and room.kind != place.kind.room_kind:
        raise field_error(
            "room_id", f"{place.kind.name} needs a {place.kind.room_kind} room; {room.name} is not."
        )


async def _room_for(session: AsyncSession, place: Place) -> uuid.UUID | None:
    """The room asked for, or the first free room of the needed kind (409 if none)."""
    if place.room_id is not None or place.kind.room_kind is None:
        return place.room_id
    held = place.need.held(place.starts_at)
    room_id = await first_free_room(session, place.location.id, place.kind.room_kind, held)
    if room_id is None:
        raise await _no_room(session, place, held)
    return room_id


async def _no_room(
    session: AsyncSession, place: Place, held: tuple[datetime, datetime]
) -> Conflict:
    """The 409 when every room of the kind is taken: each room, in the order rooms are
    chosen, with the first appointment in its way; the earliest of those (the first room's,
    on a tie) is ``clashing_appointment_id``."""
    kind = place.kind.room_kind
    assert kind is not None
    rooms = await rooms_of_kind(session, place.location.id, kind)
    if not rooms:
        return Conflict(f"{place.location.name} has no {kind} room in use.", conflict="room")
    taken = (
        select(
            Appointment.room_id,
            # A hold is nobody's appointment to open: no id for it.
            case((Appointment.status == HELD, None), else_=Appointment.id),
            Appointment.starts_at,
        )
        .where(
            Appointment.room_id.in_(rooms),
            Appointment.held.op("&&")(func.tstzrange(held[0], held[1], "[)")),
            holds_time(),
        )
        .order_by(Appointment.room_id, Appointment.starts_at)
        .ext(distinct_on(Appointment.room_id))
    )
    way = {room: (other, start) for room, other, start in await session.execute(taken)}
    in_way = [(room, *way[room]) for room in rooms if room in way]  # the rooms' choice order
    earliest = min(in_way, key=lambda found: found[2], default=None)
    return Conflict(
        f"No {kind} room is free at {local_span(*place.need.visit(place.starts_at), place.zone)}.",
        conflict="room",
        clashing_appointment_id=str(earliest[1]) if earliest and earliest[1] else None,
        rooms=[
            {"room_id": str(room), "clashing_appointment_id": str(other) if other else None}
            for room, other, _ in in_way
        ],
    )


async def clash(session: AsyncSession, row: dict[str, Any], zone: ZoneInfo) -> Conflict:
    """The 409 for a refused insert, naming what is in the way and the appointment."""
    for constraint, (column, span, who, conflict) in _OWNER.items():
        if row[column] is None:
            continue
        other = Appointment.__table__.c
        start, end = (
            (row["starts_at"], row["ends_at"])
            if span == "during"
            else (
                row["held_from"],
                row["held_until"],
            )
        )
        query = (
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.hold_expires_at,
            )
            .where(
                other[column] == row[column],
                other[span].op("&&")(func.tstzrange(start, end, "[)")),
                holds_time(),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
        if constraint == "ex_appointments_practitioner":
            if row["allow_overlap"]:
                continue
            query = query.where(Appointment.allow_overlap.is_(False))
        found = (await session.execute(query)).first()
        if found is not None:
            other_id, other_start, other_end, hold_expires_at = found
            if hold_expires_at is not None:
                # Someone booking online; a hold is not an appointment anyone can open.
                return Conflict(
                    f"This time is held for someone booking online until"
                    f" {hold_expires_at.astimezone(zone):%H:%M}; it is free again then if they"
                    " do not finish.",
                    conflict=conflict,
                    held_until=hold_expires_at.isoformat(),
                )
            return Conflict(
                f"{who} already has an appointment at {local_span(other_start, other_end, zone)}"
                " that overlaps this time.",
                conflict=conflict,
                clashing_appointment_id=str(other_id),
            )
    # The other booking was cancelled between the refusal and this look.
    return Conflict("Another booking took this time a moment ago; choose another time.")


_COLUMNS = (
    "id",
    "patient_id",
    "practitioner_id",
    "location_id",
    "room_id",
    "appointment_type_id",
    "series_id",
    "source",
    "starts_at",
    "ends_at",
    "held_from",
    "held_until",
    "allow_overlap",
    "note",
    "created_by",
)


def _insert_statement() -> ExecutableReturnsRows:
    """The appointment, its first status change and the waitlist entries it satisfies, in
    one statement; built once. Its parameters: ``new_`` and each column, ``actor_id``,
    ``detail``, and ``local_date``/``now`` of ``waitlist.closing_entries`` (none is named
    as a column: a parameter with a column's name would join the UPDATE's SET list).

    ``ON CONFLICT DO NOTHING`` (no conflict target) lets the exclusion constraints refuse the
    row without aborting the transaction; the history row is made from the inserted row, so
    a refusal writes none of them.
    """
    table = Appointment.__table__.c
    new = (
        insert(Appointment)
        .values({name: bindparam(f"new_{name}", type_=table[name].type) for name in _COLUMNS})
        .on_conflict_do_nothing()
        .returning(Appointment)
    )
    new_cte = new.cte("new_appointment")
    history = (
        insert(StatusChange)
        .from_select(
            ["appointment_id", "from_status", "to_status", "actor_id", "detail"],
            select(
                new_cte.c.id,
                null().cast(String),
                literal("booked", String),
                bindparam("actor_id", type_=Uuid),
                bindparam("detail", type_=JSONB),
            ),
        )
        .cte("first_status")
    )
    both = select(new_cte).add_cte(history).add_cte(closing_entries(new_cte))
    return select(Appointment).from_statement(both)


_INSERT = _insert_statement()


def _hold_statement() -> ExecutableReturnsRows:
    """A hold: the same row with status ``held``, its expiry, and nothing else (no history,
    no waitlist: it is not an appointment until confirmed). Built once."""
    table = Appointment.__table__.c
    return (
        insert(Appointment)
        .values(
            {
                **{name: bindparam(f"new_{name}", type_=table[name].type) for name in _COLUMNS},
                "status": HELD,
                "hold_expires_at": bindparam("new_until", type_=table["hold_expires_at"].type),
            }
        )
        .on_conflict_do_nothing()
        .returning(Appointment)
    )


_HOLD = _hold_statement()


async def _insert(
    session: AsyncSession,
    values: dict[str, Any],
    *,
    actor_id: uuid.UUID | None,
    detail: dict[str, object],
    local_date: date,
) -> Appointment | None:
    """``_INSERT`` with these values (``local_date``: the visit's day where it happens);
    None if refused."""
    params = {
        **{f"new_{name}": values[name] for name in _COLUMNS},
        "actor_id": actor_id,
        "detail": detail,
        "local_date": local_date,
        "now": clock.utcnow(),
    }
    return (await session.scalars(_INSERT, params)).one_or_none()


async def place(
    session: AsyncSession,
    spot: Place,
    *,
    actor_id: uuid.UUID | None,
    now: datetime,
    detail: dict[str, object] | None = None,
    appointment_id: uuid.UUID | None = None,
) -> Appointment:
    """Check, then insert; a refused insert is a 409 and leaves the transaction usable (no
    savepoint round trips); concurrent inserts still wait for each other exactly as a plain
    INSERT would."""
    local_date = spot.starts_at.astimezone(spot.zone).date()

    async def write(values: dict[str, Any]) -> Appointment | None:
        return await _insert(
            session, values, actor_id=actor_id, detail=detail or {}, local_date=local_date
        )

    return await _put(session, spot, now, write, appointment_id=appointment_id, created_by=actor_id)


async def hold(
    session: AsyncSession, spot: Place, *, until: datetime, now: datetime
) -> Appointment:
    """Keep ``spot`` for someone booking online until ``until``: a row ``held``, with no
    patient, inside the same exclusion constraints as a booking (409 as for one). It
    becomes an appointment (``holds.confirm``) or is deleted (``holds.expire``)."""

    async def write(values: dict[str, Any]) -> Appointment | None:
        params = {f"new_{name}": values[name] for name in _COLUMNS}
        return (await session.scalars(_HOLD, {**params, "new_until": until})).one_or_none()

    return await _put(session, spot, now, write, appointment_id=None, created_by=None)


async def _put(
    session: AsyncSession,
    spot: Place,
    now: datetime,
    write: Callable[[dict[str, Any]], Awaitable[Appointment | None]],
    *,
    appointment_id: uuid.UUID | None,
    created_by: uuid.UUID | None,
) -> Appointment:
    await _check_time(session, spot, now)
    await _check_room(session, spot)
    start, end = spot.need.visit(spot.starts_at)
    held_from, held_until = spot.need.held(spot.starts_at)
    refused: Conflict | None = None
    swept = False
    # A room chosen for the caller may be taken a moment later by another request: look
    # again (a few times; each look sees the rooms taken since).
    for _ in range(ROOM_ATTEMPTS):
        room_id = await _room_for(session, spot)
        values: dict[str, Any] = {
            "id": appointment_id or uuid.uuid4(),
            "patient_id": spot.patient_id,
            "practitioner_id": spot.practitioner.id,
            "location_id": spot.location.id,
            "room_id": room_id,
            "appointment_type_id": spot.kind.id,
            "series_id": spot.series_id,
            "source": "series" if spot.series_id else spot.source,
            "starts_at": start.astimezone(UTC),
            "ends_at": end.astimezone(UTC),
            "held_from": held_from.astimezone(UTC),
            "held_until": held_until.astimezone(UTC),
            "allow_overlap": spot.allow_overlap,
            "note": spot.note,
            "created_by": created_by,
        }
        row = await write(values)
        if row is not None:
            return row
        # An online hold that expired moments ago may be in the way: they are deleted a
        # minute at most after they expire; this refusal cannot wait for that.
        if not swept and await holds.sweep(session, now):
            swept = True
            continue
        refused = await clash(session, values, spot.zone)
        # A room chosen for the caller was taken a moment ago: try the next free one.
        if refused.extra.get("conflict") == "room" and spot.room_id is None:
            continue
        raise refused
    assert refused is not None
    raise refused
