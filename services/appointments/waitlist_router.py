"""The waitlist under /api/v1/waitlist: every staff role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from services.appointments import waitlist
from services.appointments.waitlist_schemas import (
    WaitlistCreate,
    WaitlistEntryOut,
    WaitlistStatus,
)
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/waitlist", tags=["waitlist"])

WaitlistStaff = Annotated[Principal, Depends(require_roles(*waitlist.WAITLIST_ROLES))]


@router.post(
    "",
    response_model=WaitlistEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such patient, practitioner or appointment type"}},
)
async def create_entry(
    body: WaitlistCreate, staff: WaitlistStaff, session: SessionDep, client: ClientDep
) -> WaitlistEntryOut:
    """Put a patient on the practitioner's waitlist between two local dates (422 when
    ``latest_date`` is before ``earliest_date`` or already past)."""
    entry = await waitlist.create_entry(session, body, actor=staff, client=client)
    return WaitlistEntryOut.model_validate(entry)


@router.get("", response_model=Page[WaitlistEntryOut])
async def list_entries(
    staff: WaitlistStaff,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    status_filter: Annotated[
        WaitlistStatus | None,
        Query(alias="status", description="Omit for the open entries: waiting and offered"),
    ] = None,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> Page[WaitlistEntryOut]:
    """Entries oldest first, the order freed time is offered in. Each one listed is audited."""
    rows = await waitlist.list_entries(
        session,
        status=status_filter,
        practitioner_id=practitioner_id,
        patient_id=patient_id,
        page=page,
        actor=staff,
        client=client,
    )
    return Page[WaitlistEntryOut].build([WaitlistEntryOut.model_validate(r) for r in rows], page)


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        404: {"description": "No waitlist entry"},
        409: {"description": "The entry ended in a booking"},
    },
)
async def remove_entry(
    entry_id: uuid.UUID, staff: WaitlistStaff, session: SessionDep, client: ClientDep
) -> None:
    """Take the entry off the waitlist; it is kept with status ``removed``. Removing it
    again is a 204 too."""
    await waitlist.remove_entry(session, entry_id, actor=staff, client=client)
