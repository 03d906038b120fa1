from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from services.clinic import closures, locations, messages
from services.clinic.schemas import (
    ClosureCreate,
    ClosureOut,
    LocationCreate,
    LocationOut,
    LocationUpdate,
    MessageSettingsIn,
    MessageSettingsOut,
    RoomCreate,
    RoomOut,
    RoomUpdate,
)
from services.core.auth.deps import AdminPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep
from services.core.types import IsoDate

router = APIRouter(prefix="/api/v1", tags=["clinic setup"])

_NO_LOCATION: dict[int | str, dict[str, Any]] = {404: {"description": "No location"}}


@router.get("/locations", response_model=Page[LocationOut])
async def list_locations(
    staff: StaffPrincipal, session: SessionDep, page: PageDep, active: bool | None = None
) -> Page[LocationOut]:
    rows = await locations.list_locations(session, page, active=active)
    return Page[LocationOut].build([LocationOut.model_validate(r) for r in rows], page)


@router.post(
    "/locations",
    response_model=LocationOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Name already used"}},
)
async def create_location(
    body: LocationCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> LocationOut:
    location = await locations.create_location(session, body, actor=admin, client=client)
    set_etag(response, location.version)
    return LocationOut.model_validate(location)


@router.get("/locations/{location_id}", response_model=LocationOut, responses=_NO_LOCATION)
async def get_location(
    location_id: uuid.UUID, staff: StaffPrincipal, session: SessionDep, response: Response
) -> LocationOut:
    location = await locations.get_location(session, location_id)
    set_etag(response, location.version)
    return LocationOut.model_validate(location)


@router.patch(
    "/locations/{location_id}",
    response_model=LocationOut,
    responses={
        **_NO_LOCATION,
        409: {"description": "Name already used"},
    },
)
async def update_location(
    location_id: uuid.UUID,
    body: LocationUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> LocationOut:
    """Change a location. ``address`` and ``phone`` are cleared with null."""
    location = await locations.update_location(
        session, location_id, body, if_match=if_match, actor=admin, client=client
    )
    set_etag(response, location.version)
    return LocationOut.model_validate(location)


@router.get("/locations/{location_id}/rooms", response_model=Page[RoomOut], responses=_NO_LOCATION)
async def list_rooms(
    location_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    page: PageDep,
    active: bool | None = None,
) -> Page[RoomOut]:
    rows = await locations.list_rooms(session, location_id, page, active=active)
    return Page[RoomOut].build([RoomOut.model_validate(r) for r in rows], page)


@router.post(
    "/locations/{location_id}/rooms",
    response_model=RoomOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_NO_LOCATION, 409: {"description": "Name already used at this location"}},
)
async def create_room(
    location_id: uuid.UUID,
    body: RoomCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> RoomOut:
    room = await locations.create_room(session, location_id, body, actor=admin, client=client)
    return RoomOut.model_validate(room)


@router.patch(
    "/rooms/{room_id}",
    response_model=RoomOut,
    responses={404: {"description": "No room"}, 409: {"description": "Name already used"}},
)
async def update_room(
    room_id: uuid.UUID,
    body: RoomUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> RoomOut:
    room = await locations.update_room(session, room_id, body, actor=admin, client=client)
    return RoomOut.model_validate(room)


@router.get(
    "/locations/{location_id}/message-settings",
    response_model=MessageSettingsOut,
    responses=_NO_LOCATION,
)
async def get_message_settings(
    location_id: uuid.UUID, staff: StaffPrincipal, session: SessionDep
) -> MessageSettingsOut:
    """The saved settings, or the defaults until they are saved once."""
    return await messages.get_message_settings(session, location_id)


@router.put(
    "/locations/{location_id}/message-settings",
    response_model=MessageSettingsOut,
    responses=_NO_LOCATION,
)
async def put_message_settings(
    location_id: uuid.UUID,
    body: MessageSettingsIn,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> MessageSettingsOut:
    """Replace the settings; a field left out gets its default."""
    return await messages.put_message_settings(
        session, location_id, body, actor=admin, client=client
    )


@router.get(
    "/locations/{location_id}/closures", response_model=Page[ClosureOut], responses=_NO_LOCATION
)
async def list_closures(
    location_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    page: PageDep,
    from_date: Annotated[IsoDate | None, Query(alias="from")] = None,
    to_date: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> Page[ClosureOut]:
    """Closed days touching the local dates [from, to], earliest first."""
    rows = await closures.list_closures(
        session, location_id, page, from_date=from_date, to_date=to_date
    )
    return Page[ClosureOut].build([ClosureOut.model_validate(r) for r in rows], page)


@router.post(
    "/locations/{location_id}/closures",
    response_model=ClosureOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_NO_LOCATION, 409: {"description": "Overlaps a closure of this location"}},
)
async def create_closure(
    location_id: uuid.UUID,
    body: ClosureCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> ClosureOut:
    """Close the location on whole local days: no availability, bookings or care-plan
    visits there. Visits already booked on those days stay; the day sheet marks the day."""
    created = await closures.create_closure(session, location_id, body, actor=admin, client=client)
    return ClosureOut.model_validate(created)


@router.delete(
    "/closures/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No closure"}},
)
async def delete_closure(
    closure_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> None:
    await closures.delete_closure(session, closure_id, actor=admin, client=client)
