"""A patient's clinical story: the timeline (every staff role, content by role) and the
series of one outcome measure (chiropractors)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends

from services.core.auth.deps import StaffPrincipal, require_roles
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep
from services.notes import timeline
from services.notes.service import OUTCOMES
from services.notes.timeline import ObservationOut, TimelineEntry

router = APIRouter(prefix="/api/v1/patients", tags=["visit notes"])

Chiropractor = Annotated[Principal, Depends(require_roles(Role.chiropractor))]
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such patient"}}

# The measures there are series of (the check-ins will add theirs to this list).
Measure = StrEnum("Measure", {code: code for code, _, _ in OUTCOMES})  # type: ignore[misc]


@router.get("/{patient_id}/timeline", response_model=Page[TimelineEntry], responses=_NOT_FOUND)
async def patient_timeline(
    patient_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
) -> Page[TimelineEntry]:
    """Appointments, notes, addenda and outcome values, newest first. Front desk and admins
    see appointments and note statuses; chiropractors also see the clinical entries."""
    rows = await timeline.timeline(session, patient_id, page=page, actor=staff, client=client)
    return Page[TimelineEntry].build(rows, page)


@router.get("/{patient_id}/observations", response_model=Page[ObservationOut], responses=_NOT_FOUND)
async def patient_observations(
    patient_id: uuid.UUID,
    code: Measure,
    doctor: Chiropractor,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
) -> Page[ObservationOut]:
    """One measure over time, oldest first, from signed notes (and later check-ins)."""
    rows = await timeline.observations(
        session, patient_id, code.value, page=page, actor=doctor, client=client
    )
    return Page[ObservationOut].build(rows, page)
