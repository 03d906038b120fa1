"""Appointments: book (idempotently), read, list, and one endpoint per lifecycle step."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from services.appointments import idempotency, lifecycle, service
from services.appointments.idempotency import IdempotencyHeader
from services.appointments.schemas import (
    AppointmentCreate,
    AppointmentDetail,
    AppointmentOut,
    Cancel,
    Reschedule,
    Status,
)
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep
from services.core.types import IsoDateTime

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])

Staff = Annotated[Principal, Depends(require_roles(*service.APPOINTMENT_ROLES))]
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such appointment"}}
_TRANSITION: dict[int | str, dict[str, object]] = {
    **_NOT_FOUND,
    409: {"description": "Not allowed from the current status"},
}
BOOKING_SCOPE = "POST /api/v1/appointments"


@router.post(
    "",
    response_model=AppointmentOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "allow_overlap needs a chiropractor or admin"},
        404: {"description": "Patient, practitioner, type, location or room not found"},
        409: {"description": "The time clashes with another appointment (named)"},
    },
)
async def book(
    body: AppointmentCreate,
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
    idempotency_key: IdempotencyHeader = None,
) -> AppointmentOut | JSONResponse:
    """Book a visit. The database refuses any overlap for the practitioner, room or patient."""
    if idempotency_key is not None:
        replay = await idempotency.claim(
            session, staff.user_id, BOOKING_SCOPE, idempotency_key, body
        )
        if replay is not None:
            return JSONResponse(
                replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"}
            )
    answer = await service.create_appointment(session, body, actor=staff, client=client)
    if idempotency_key is not None:
        await idempotency.remember(
            session, staff.user_id, BOOKING_SCOPE, idempotency_key, status.HTTP_201_CREATED, answer
        )
    return answer


@router.get("", response_model=Page[AppointmentOut])
async def list_appointments(
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    patient_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    starts_from: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    starts_before: Annotated[IsoDateTime | None, Query(alias="to")] = None,
    status_filter: Annotated[list[Status] | None, Query(alias="status", max_length=8)] = None,
) -> Page[AppointmentOut]:
    """Earliest first; ``from``/``to`` bound the start time; ``status`` may repeat."""
    rows = await service.list_appointments(
        session,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        location_id=location_id,
        starts_from=starts_from,
        starts_before=starts_before,
        statuses=status_filter or [],
        page=page,
        actor=staff,
        client=client,
    )
    return Page[AppointmentOut].build(rows, page)


@router.get("/{appointment_id}", response_model=AppointmentDetail, responses=_NOT_FOUND)
async def get_appointment(
    appointment_id: uuid.UUID, staff: Staff, session: SessionDep, client: ClientDep
) -> AppointmentDetail:
    """The appointment with its status history (who changed it, when)."""
    appointment = await service.get_appointment(session, appointment_id, actor=staff, client=client)
    return await service.detail(session, appointment)


def _step(transition: lifecycle.Transition) -> Callable[..., Awaitable[AppointmentOut]]:
    async def step(
        appointment_id: uuid.UUID, staff: Staff, session: SessionDep, client: ClientDep
    ) -> AppointmentOut:
        appointment = await lifecycle.advance(
            session, appointment_id, transition, actor=staff, client=client
        )
        return await service.out(session, appointment)

    return step


# One endpoint per lifecycle step, each a plain POST with no body.
for _path, _transition, _summary in (
    ("confirm", lifecycle.CONFIRM, "Confirm (the patient said they will come)"),
    ("check-in", lifecycle.CHECK_IN, "Check the patient in"),
    ("start", lifecycle.START, "Start the visit"),
    ("complete", lifecycle.COMPLETE, "Complete the visit"),
    ("no-show", lifecycle.NO_SHOW, "Mark a no-show (only after the start time; frees the time)"),
):
    router.add_api_route(
        f"/{{appointment_id}}/{_path}",
        _step(_transition),
        methods=["POST"],
        response_model=AppointmentOut,
        responses=_TRANSITION,
        summary=_summary,
        name=_transition.action,
    )


@router.post("/{appointment_id}/cancel", response_model=AppointmentOut, responses=_TRANSITION)
async def cancel(
    appointment_id: uuid.UUID, body: Cancel, staff: Staff, session: SessionDep, client: ClientDep
) -> AppointmentOut:
    """Frees the time. ``late_cancel`` is set for a patient's cancellation inside the
    location's late-cancel window; illness or a flare-up is never late."""
    appointment = await lifecycle.cancel(session, appointment_id, body, actor=staff, client=client)
    return await service.out(session, appointment)


@router.post(
    "/{appointment_id}/reschedule",
    response_model=AppointmentOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **_NOT_FOUND,
        403: {"description": "allow_overlap needs a chiropractor or admin"},
        409: {"description": "Not movable, or the new time clashes (nothing changed)"},
    },
)
async def reschedule(
    appointment_id: uuid.UUID,
    body: Reschedule,
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
) -> AppointmentOut:
    """Answers the new appointment; the old one is kept, linked, with status rescheduled."""
    appointment = await service.reschedule(
        session, appointment_id, body, actor=staff, client=client
    )
    return await service.out(session, appointment)
