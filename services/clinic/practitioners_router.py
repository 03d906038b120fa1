from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from services.clinic import hours, practitioners
from services.clinic.practitioners import PractitionerView
from services.clinic.schemas import (
    PractitionerCreate,
    PractitionerOut,
    PractitionerUpdate,
    ScheduleExceptionCreate,
    ScheduleExceptionOut,
    WorkingHoursOut,
    WorkingHoursSet,
)
from services.core.auth.deps import AdminPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep
from services.core.types import IsoDateTime

router = APIRouter(prefix="/api/v1", tags=["clinic setup"])

_NO_PRACTITIONER: dict[int | str, dict[str, Any]] = {404: {"description": "No practitioner"}}


def _out(found: PractitionerView) -> PractitionerOut:
    p = found.practitioner
    return PractitionerOut(
        id=p.id,
        user_id=p.user_id,
        display_name=p.display_name,
        credentials=p.credentials,
        location_ids=found.location_ids,
        is_active=p.is_active,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.get("/practitioners", response_model=Page[PractitionerOut])
async def list_practitioners(
    staff: StaffPrincipal,
    session: SessionDep,
    page: PageDep,
    active: bool | None = None,
    location_id: uuid.UUID | None = None,
) -> Page[PractitionerOut]:
    rows = await practitioners.list_practitioners(
        session, page, active=active, location_id=location_id
    )
    return Page[PractitionerOut].build([_out(r) for r in rows], page)


@router.post(
    "/practitioners",
    response_model=PractitionerOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "No such user or location"},
        409: {"description": "The user already has a practitioner profile"},
    },
)
async def create_practitioner(
    body: PractitionerCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> PractitionerOut:
    """A practitioner profile for a user who holds the chiropractor role (else 422)."""
    created = await practitioners.create_practitioner(session, body, actor=admin, client=client)
    set_etag(response, created.practitioner.version)
    return _out(created)


@router.get(
    "/practitioners/{practitioner_id}", response_model=PractitionerOut, responses=_NO_PRACTITIONER
)
async def get_practitioner(
    practitioner_id: uuid.UUID, staff: StaffPrincipal, session: SessionDep, response: Response
) -> PractitionerOut:
    found = await practitioners.get_practitioner(session, practitioner_id)
    set_etag(response, found.version)
    return _out(await practitioners.view(session, found))


@router.patch(
    "/practitioners/{practitioner_id}",
    response_model=PractitionerOut,
    responses={
        404: {"description": "No practitioner, or no such location"},
    },
)
async def update_practitioner(
    practitioner_id: uuid.UUID,
    body: PractitionerUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PractitionerOut:
    """Change a practitioner; ``location_ids`` replaces the set (hours at a removed location
    go with it). ``credentials`` is cleared with null."""
    updated = await practitioners.update_practitioner(
        session, practitioner_id, body, if_match=if_match, actor=admin, client=client
    )
    set_etag(response, updated.practitioner.version)
    return _out(updated)


@router.get(
    "/practitioners/{practitioner_id}/working-hours",
    response_model=list[WorkingHoursOut],
    responses=_NO_PRACTITIONER,
)
async def list_working_hours(
    practitioner_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    location_id: uuid.UUID | None = None,
) -> list[WorkingHoursOut]:
    """The weekly hours (local times of each location), by weekday and start."""
    rows = await hours.list_working_hours(session, practitioner_id, location_id=location_id)
    return [WorkingHoursOut.model_validate(r) for r in rows]


@router.put(
    "/practitioners/{practitioner_id}/working-hours",
    response_model=list[WorkingHoursOut],
    responses={
        404: {"description": "No practitioner or location"},
        409: {"description": "Overlaps the practitioner's hours at another location"},
    },
)
async def replace_working_hours(
    practitioner_id: uuid.UUID,
    body: WorkingHoursSet,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> list[WorkingHoursOut]:
    """Replace the whole weekly set at one location the practitioner works at."""
    rows = await hours.replace_working_hours(
        session, practitioner_id, body, actor=admin, client=client
    )
    return [WorkingHoursOut.model_validate(r) for r in rows]


@router.get(
    "/practitioners/{practitioner_id}/exceptions",
    response_model=Page[ScheduleExceptionOut],
    responses=_NO_PRACTITIONER,
)
async def list_exceptions(
    practitioner_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    page: PageDep,
    at_from: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    at_to: Annotated[IsoDateTime | None, Query(alias="to")] = None,
) -> Page[ScheduleExceptionOut]:
    """Time off and extra hours that overlap [from, to), earliest first."""
    rows = await hours.list_exceptions(session, practitioner_id, page, at_from=at_from, at_to=at_to)
    return Page[ScheduleExceptionOut].build(
        [ScheduleExceptionOut.model_validate(r) for r in rows], page
    )


@router.post(
    "/practitioners/{practitioner_id}/exceptions",
    response_model=ScheduleExceptionOut,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No practitioner or location"}},
)
async def create_exception(
    practitioner_id: uuid.UUID,
    body: ScheduleExceptionCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> ScheduleExceptionOut:
    """Time off or extra hours: ``starts_at``/``ends_at`` with offsets, or whole local days
    ``start_date``…``end_date`` read in the location's time zone."""
    created = await hours.create_exception(
        session, practitioner_id, body, actor=admin, client=client
    )
    return ScheduleExceptionOut.model_validate(created)


@router.delete(
    "/schedule-exceptions/{exception_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No schedule exception"}},
)
async def delete_exception(
    exception_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> None:
    await hours.delete_exception(session, exception_id, actor=admin, client=client)
