from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status

from services.clinic import locations, messages
from services.clinic.schemas import (
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
