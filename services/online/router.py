"""Online booking's staff routes: each location's settings (admins write, staff read), the
clinic's blocklist (admins), and the public pages (``pages_router``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from services.core.auth.deps import AdminPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep
from services.online import blocklist, settings
from services.online.pages_router import router as pages_router
from services.online.schemas import (
    BlockedContactIn,
    BlockedContactOut,
    OnlineSettingsIn,
    OnlineSettingsOut,
)

api = APIRouter(prefix="/api/v1", tags=["online booking"])
_NO_LOCATION: dict[int | str, dict[str, Any]] = {404: {"description": "No location"}}


@api.get(
    "/locations/{location_id}/online-booking",
    response_model=OnlineSettingsOut,
    responses=_NO_LOCATION,
)
async def get_online_settings(
    location_id: uuid.UUID, staff: StaffPrincipal, session: SessionDep
) -> OnlineSettingsOut:
    """The saved settings, or the defaults (off) until saved once."""
    return await settings.settings_of(session, location_id)


@api.put(
    "/locations/{location_id}/online-booking",
    response_model=OnlineSettingsOut,
    responses=_NO_LOCATION,
)
async def put_online_settings(
    location_id: uuid.UUID,
    body: OnlineSettingsIn,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> OnlineSettingsOut:
    """Replace the settings; a field left out gets its default. Which visits patients may
    book is each appointment type's ``online_bookable``."""
    return await settings.put_settings(session, location_id, body, actor=admin, client=client)


@api.get("/online-booking/blocked", response_model=Page[BlockedContactOut])
async def list_blocked(
    admin: AdminPrincipal, session: SessionDep, page: PageDep
) -> Page[BlockedContactOut]:
    rows = await blocklist.list_blocked(session, page)
    return Page[BlockedContactOut].build([BlockedContactOut.model_validate(r) for r in rows], page)


@api.post(
    "/online-booking/blocked",
    response_model=BlockedContactOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Already blocked"}},
)
async def block(
    body: BlockedContactIn, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> BlockedContactOut:
    """Refuse a phone or email quietly: it sees the pages anyone sees, nothing is booked."""
    row = await blocklist.block(session, body, actor=admin, client=client)
    return BlockedContactOut.model_validate(row)


@api.delete(
    "/online-booking/blocked/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such entry"}},
)
async def unblock(
    entry_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> None:
    await blocklist.unblock(session, entry_id, actor=admin, client=client)


router = APIRouter()
router.include_router(api)
router.include_router(pages_router)
