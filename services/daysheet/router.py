"""The day sheet route: one location's day for the front desk and the chiropractors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.appointments.service import APPOINTMENT_ROLES
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep
from services.core.types import IsoDate
from services.daysheet import service as daysheet
from services.daysheet.schemas import DaySheet

router = APIRouter(prefix="/api/v1", tags=["scheduling"])

Staff = Annotated[Principal, Depends(require_roles(*APPOINTMENT_ROLES))]


@router.get(
    "/schedule",
    response_model=DaySheet,
    responses={404: {"description": "No such location"}},
)
async def day_sheet(
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
    date: Annotated[IsoDate, Query(description="The local date, YYYY-MM-DD")],
    location_id: uuid.UUID,
) -> DaySheet:
    """The day per practitioner in local time; each patient shown is an audited read."""
    return await daysheet.day_sheet(session, date, location_id, actor=staff, client=client)
