"""The appointment lifecycle: one function per transition, each recorded with who and when.

    booked → confirmed → checked_in → in_progress → completed
    booked | confirmed | checked_in → cancelled      (frees the time)
    booked | confirmed → no_show, once the start has passed (frees the time)

The row is locked (``FOR UPDATE``) while the transition is checked, so two clicks or two
desks cannot both move it; an invalid transition is 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.events import Cancelled, CarePlanEnded, Completed
from services.appointments.models import Appointment, StatusChange
from services.appointments.schemas import Cancel, CancelReason, Status
from services.appointments.service import (
    get_appointment,
    record,
    release,
    series_has_upcoming,
)
from services.clinic.service import late_cancel_minutes
from services.core import clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict
from services.core.events import announce


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[Status]
    target: Status


CONFIRM = Transition("confirm", frozenset({Status.booked}), Status.confirmed)
CHECK_IN = Transition("check_in", frozenset({Status.booked, Status.confirmed}), Status.checked_in)
START = Transition("start", frozenset({Status.checked_in}), Status.in_progress)
COMPLETE = Transition("complete", frozenset({Status.in_progress}), Status.completed)
NO_SHOW = Transition("no_show", frozenset({Status.booked, Status.confirmed}), Status.no_show)
CANCEL = Transition(
    "cancel", frozenset({Status.booked, Status.confirmed, Status.checked_in}), Status.cancelled
)


def _refuse(appointment: Appointment, transition: Transition) -> Conflict:
    state = appointment.status.replace("_", " ")
    verb = transition.action.replace("_", " ")
    allowed = ", ".join(sorted(s.value for s in transition.sources))
    return Conflict(
        f"Cannot {verb} an appointment that is {state} (only from: {allowed}).",
        current_status=appointment.status,
    )


def apply(
    session: AsyncSession,
    appointment: Appointment,
    transition: Transition,
    *,
    actor_id: uuid.UUID | None,
    now: datetime,
    detail: dict[str, object] | None = None,
) -> None:
    """Move a locked appointment to ``transition.target`` and record the change."""
    if Status(appointment.status) not in transition.sources:
        raise _refuse(appointment, transition)
    session.add(
        StatusChange(
            appointment_id=appointment.id,
            from_status=appointment.status,
            to_status=transition.target,
            actor_id=actor_id,
            detail=detail or {},
        )
    )
    appointment.status = transition.target
    appointment.status_changed_at = now


async def _care_plan_check(session: AsyncSession, appointment: Appointment) -> None:
    """A care plan left with no visit to come is over (its weekly check-ins stop)."""
    if appointment.series_id is not None and not await series_has_upcoming(
        session, appointment.series_id
    ):
        await announce(session, CarePlanEnded(appointment.series_id))


async def advance(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    transition: Transition,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Appointment:
    """Confirm, check in, start, complete or mark a no-show."""
    appointment = await get_appointment(
        session, appointment_id, actor=actor, client=client, for_update=True, action=""
    )
    now = clock.utcnow()
    if Status(appointment.status) not in transition.sources:
        raise _refuse(appointment, transition)
    if transition is NO_SHOW and now < appointment.starts_at:
        raise Conflict("A patient can be marked as a no-show only after the start time.")
    apply(session, appointment, transition, actor_id=actor.user_id, now=now)
    await session.flush()
    if transition is COMPLETE:
        await announce(session, Completed(appointment))
    elif transition is NO_SHOW:
        await _care_plan_check(session, appointment)
    await record(session, actor, client, transition.action, appointment)
    return appointment


async def is_late(
    session: AsyncSession, appointment: Appointment, reason: CancelReason, now: datetime
) -> bool:
    """A patient's cancellation inside the location's late-cancel window. Illness or a
    flare-up is never late, and neither is a cancellation by the clinic."""
    if reason is not CancelReason.patient:
        return False
    minutes = await late_cancel_minutes(session, appointment.location_id)
    return now > appointment.starts_at - timedelta(minutes=minutes)


async def cancel_one(
    session: AsyncSession,
    appointment: Appointment,
    data: Cancel,
    *,
    actor: Principal | None,
    client: ClientInfo,
    now: datetime,
    notify: bool = True,
) -> None:
    """Cancel a locked appointment; its time is free for others at once. Its messages
    not yet sent are cancelled; ``notify``: tell the patient it is cancelled."""
    late = await is_late(session, appointment, data.reason, now)
    apply(
        session,
        appointment,
        CANCEL,
        actor_id=actor.user_id if actor else None,
        now=now,
        detail={"reason": data.reason.value, "late": late, "note": data.note},
    )
    appointment.cancel_reason = data.reason.value
    appointment.late_cancel = late
    await session.flush()
    await announce(session, Cancelled(appointment, notify=notify))
    await _care_plan_check(session, appointment)
    offered = await release(session, appointment)
    await record(
        session, actor, client, "cancel", appointment, {"reason": data.reason.value, **offered}
    )


async def cancel(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    data: Cancel,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Appointment:
    appointment = await get_appointment(
        session, appointment_id, actor=actor, client=client, for_update=True, action=""
    )
    await cancel_one(session, appointment, data, actor=actor, client=client, now=clock.utcnow())
    return appointment
