from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status

from services.clinic import appointment_types
from services.clinic.schemas import (
    AppointmentTypeCreate,
    AppointmentTypeOut,
    AppointmentTypeUpdate,
)
from services.core.auth.deps import AdminPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/appointment-types", tags=["clinic setup"])

_NO_TYPE: dict[int | str, dict[str, Any]] = {404: {"description": "No appointment type"}}


@router.get("", response_model=Page[AppointmentTypeOut])
async def list_appointment_types(
    staff: StaffPrincipal, session: SessionDep, page: PageDep, active: bool | None = None
) -> Page[AppointmentTypeOut]:
    rows = await appointment_types.list_appointment_types(session, page, active=active)
    return Page[AppointmentTypeOut].build(
        [AppointmentTypeOut.model_validate(r) for r in rows], page
    )


@router.post(
    "",
    response_model=AppointmentTypeOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Name already used"}},
)
async def create_appointment_type(
    body: AppointmentTypeCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> AppointmentTypeOut:
    created = await appointment_types.create_appointment_type(
        session, body, actor=admin, client=client
    )
    set_etag(response, created.version)
    return AppointmentTypeOut.model_validate(created)


@router.get("/{type_id}", response_model=AppointmentTypeOut, responses=_NO_TYPE)
async def get_appointment_type(
    type_id: uuid.UUID, staff: StaffPrincipal, session: SessionDep, response: Response
) -> AppointmentTypeOut:
    found = await appointment_types.get_appointment_type(session, type_id)
    set_etag(response, found.version)
    return AppointmentTypeOut.model_validate(found)


@router.patch(
    "/{type_id}",
    response_model=AppointmentTypeOut,
    responses={
        **_NO_TYPE,
        409: {"description": "Name already used"},
    },
)
async def update_appointment_type(
    type_id: uuid.UUID,
    body: AppointmentTypeUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> AppointmentTypeOut:
    """Change a type. ``room_kind`` is cleared with null (any room will do)."""
    updated = await appointment_types.update_appointment_type(
        session, type_id, body, if_match=if_match, actor=admin, client=client
    )
    set_etag(response, updated.version)
    return AppointmentTypeOut.model_validate(updated)
