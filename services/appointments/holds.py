"""Holds: times kept for someone booking online until they prove their phone or email.

A hold is an appointment row with status ``held`` (``booking.hold`` places it, with the
same checks and exclusion constraints as a booking) and no patient. ``confirm`` makes it a
booking for the patient found or created by then, exactly as if the front desk had booked
it (first status change, confirmation and reminders); ``release`` and ``sweep`` delete
holds, the only appointments the database lets anyone delete (trigger, migration 0013).

Expiry is exact where it matters: ``confirm`` refuses a hold past its time, and a booking
refused by an expired hold sweeps and tries again (``booking._put``); the beat sweeps the
rest every minute, so availability shows the time free again within a minute.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from services.appointments.events import Booked
from services.appointments.models import HELD, Appointment, StatusChange
from services.appointments.waitlist import closing_entries
from services.core.errors import Conflict, Gone
from services.core.events import announce

# SKIP LOCKED: a hold being confirmed or released right now (its request locked first) is
# not waited for; it is gone or booked in a moment, or the next sweep takes it.
_EXPIRED = (
    delete(Appointment)
    .where(
        Appointment.id.in_(
            select(Appointment.id)
            .where(Appointment.status == HELD, Appointment.hold_expires_at <= bindparam("now"))
            .with_for_update(skip_locked=True)
        )
    )
    .returning(Appointment.id)
)


async def sweep(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Delete every hold expired by ``now`` (the partial index on ``hold_expires_at`` finds
    them); answers their ids."""
    return list((await session.scalars(_EXPIRED, {"now": now})).all())


def sweep_expired(session: Session, now: datetime) -> int:
    """``sweep`` for the worker's beat task (sync)."""
    return len(session.scalars(_EXPIRED, {"now": now}).all())


async def release(session: AsyncSession, hold_id: uuid.UUID) -> bool:
    """Give the time back (the patient went back to choose another); False: no such hold."""
    gone = await session.scalars(
        delete(Appointment)
        .where(Appointment.id == hold_id, Appointment.status == HELD)
        .returning(Appointment.id)
    )
    return gone.first() is not None


def _confirm_statement() -> ExecutableReturnsRows:
    """The hold's UPDATE and the closing of the waitlist entries it satisfies, in one
    statement; built once. Parameters: ``hold_id``, ``new_patient``, ``now``,
    ``local_date`` (none named as a column: it would join the SET list)."""
    table = cast(Table, Appointment.__table__)
    confirmed = (
        update(table)
        .where(
            table.c.id == bindparam("hold_id"),
            table.c.status == HELD,
            table.c.hold_expires_at > bindparam("now"),
        )
        .values(
            status="booked",
            patient_id=bindparam("new_patient"),
            hold_expires_at=None,
            status_changed_at=bindparam("now"),
        )
        .returning(*table.c)
        .cte("confirmed")
    )
    both = select(confirmed).add_cte(closing_entries(confirmed))
    return select(Appointment).from_statement(both)


_CONFIRM = _confirm_statement()


async def confirm(
    session: AsyncSession,
    hold_id: uuid.UUID,
    patient_id: uuid.UUID,
    *,
    now: datetime,
    local_date: date,
    detail: dict[str, object] | None = None,
) -> Appointment:
    """The hold becomes a booking for ``patient_id`` (``local_date``: the visit's day where
    it happens). ``Gone`` if it expired or was released; 409 (``conflict: patient``) if the
    patient has another visit at that time, which the patient exclusion constraint decides
    as the row gets its patient. Like a front-desk booking, it closes the patient's waitlist
    entries it satisfies, in the same statement."""
    try:
        async with session.begin_nested():
            params = {"hold_id": hold_id, "new_patient": patient_id, "now": now}
            row: Appointment | None = (
                await session.scalars(
                    _CONFIRM,
                    {**params, "local_date": local_date},
                    execution_options={"populate_existing": True},
                )
            ).one_or_none()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != "23P01":
            raise
        raise Conflict(
            "You already have a visit at this time; choose another time.", conflict="patient"
        ) from None
    if row is None:
        raise Gone("This time is no longer held; choose a time again.")
    session.add(
        StatusChange(
            appointment_id=row.id,
            from_status=None,
            to_status="booked",
            actor_id=None,
            detail={"source": row.source, **(detail or {})},
        )
    )
    await announce(session, Booked(row))
    return row
