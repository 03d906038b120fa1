"""Check-ins under /api/v1/checkins: every staff role sees whether one went out and came
back; only chiropractors read the answers (DESIGN.md roles)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.checkins import listing
from services.checkins.schemas import CheckinDetailOut, CheckinOut, CheckinStatus
from services.core.auth.deps import ChiropractorPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/checkins", tags=["check-ins"])


@router.get("", response_model=Page[CheckinOut])
async def list_checkins(
    staff: StaffPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    patient_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    status_filter: Annotated[
        list[CheckinStatus] | None,
        Query(alias="status", max_length=5, description="May repeat; e.g. sent"),
    ] = None,
) -> Page[CheckinOut]:
    """Check-ins, latest due first: when each is due, went out, expires and was answered.
    Never the answers. A sent one whose link expired shows expired. Each one listed is
    audited."""
    rows = await listing.list_checkins(
        session,
        listing.CheckinFilter(
            patient_id=patient_id,
            appointment_id=appointment_id,
            statuses=[s.value for s in status_filter or ()],
        ),
        page,
        actor=staff,
        client=client,
    )
    return Page[CheckinOut].build(rows, page)


@router.get(
    "/{checkin_id}",
    response_model=CheckinDetailOut,
    responses={404: {"description": "No such check-in"}},
)
async def get_checkin(
    checkin_id: uuid.UUID, doctor: ChiropractorPrincipal, session: SessionDep, client: ClientDep
) -> CheckinDetailOut:
    """One check-in with the questionnaire version, the answers (null until answered) and
    the alert they raised, if any; audited."""
    return await listing.get_checkin(session, checkin_id, actor=doctor, client=client)
