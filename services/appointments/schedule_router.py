"""Finding time: availability (the day sheet is ``services/daysheet``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.appointments.availability import available
from services.appointments.schemas import Availability
from services.appointments.service import APPOINTMENT_ROLES
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import SessionDep, SettingsDep
from services.core.types import IsoDateTime

router = APIRouter(prefix="/api/v1", tags=["scheduling"])

Staff = Annotated[Principal, Depends(require_roles(*APPOINTMENT_ROLES))]


@router.get(
    "/availability",
    response_model=Availability,
    responses={404: {"description": "Type, practitioner or location not found"}},
)
async def availability(
    staff: Staff,
    session: SessionDep,
    settings: SettingsDep,
    appointment_type_id: uuid.UUID,
    starts_from: Annotated[IsoDateTime, Query(alias="from")],
    starts_before: Annotated[IsoDateTime, Query(alias="to")],
    practitioner_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    first: Annotated[bool, Query(description="Only the earliest slot")] = False,
    grid: Annotated[
        int | None, Query(ge=5, le=60, description="Minutes between starts (default 10)")
    ] = None,
) -> Availability:
    """Bookable starts in [from, to) on the local grid, earliest first, in local time.

    Without ``practitioner_id``: every practitioner of the location (the clinic's first
    location when none is named). Starts sooner than the minimum notice are not offered.
    """
    return await available(
        session,
        settings,
        appointment_type_id=appointment_type_id,
        window=(starts_from, starts_before),
        practitioner_id=practitioner_id,
        location_id=location_id,
        first=first,
        grid_minutes=grid or settings.slot_grid_minutes,
    )
