"""Care-plan series: book a pattern of visits; cancel or move "this and following"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from services.appointments import series
from services.appointments.schemas import (
    AppointmentOut,
    SeriesCancel,
    SeriesCreate,
    SeriesMove,
    SeriesOut,
)
from services.appointments.service import APPOINTMENT_ROLES
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep

router = APIRouter(prefix="/api/v1/appointment-series", tags=["appointments"])

Staff = Annotated[Principal, Depends(require_roles(*APPOINTMENT_ROLES))]
_REPORT = (
    "Nothing was changed: all-or-nothing could not book (or move) every occurrence. "
    "``occurrences`` reports each one, with the nearest free start that day."
)


@router.post(
    "",
    response_model=SeriesOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "Patient, practitioner, type or location not found"},
        409: {"description": _REPORT},
    },
)
async def create_series(
    body: SeriesCreate, staff: Staff, session: SessionDep, client: ClientDep
) -> SeriesOut:
    """Book every ``weekdays`` at local ``time`` for ``weeks`` weeks from ``start_date``."""
    return await series.create_series(session, body, actor=staff, client=client)


@router.post(
    "/{series_id}/cancel",
    response_model=list[AppointmentOut],
    responses={404: {"description": "No such series or appointment"}},
)
async def cancel_following(
    series_id: uuid.UUID, body: SeriesCancel, staff: Staff, session: SessionDep, client: ClientDep
) -> list[AppointmentOut]:
    """Cancel the occurrence named and every later one still booked or confirmed."""
    return await series.cancel_following(session, series_id, body, actor=staff, client=client)


@router.post(
    "/{series_id}/move",
    response_model=SeriesOut,
    responses={
        404: {"description": "No such series or appointment"},
        409: {"description": _REPORT},
    },
)
async def move_following(
    series_id: uuid.UUID, body: SeriesMove, staff: Staff, session: SessionDep, client: ClientDep
) -> SeriesOut:
    """Move the occurrence named and every later one to a new local time, same dates."""
    return await series.move_following(session, series_id, body, actor=staff, client=client)
