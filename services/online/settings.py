"""Each location's online booking settings (defaults until saved: disabled)."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import get_location
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.online.models import OnlineBookingSettings
from services.online.schemas import OnlineSettingsIn, OnlineSettingsOut


async def settings_of(session: AsyncSession, location_id: uuid.UUID) -> OnlineSettingsOut:
    """The saved settings, or the defaults (booking online off). 404 for no location."""
    await get_location(session, location_id)
    row = await session.get(OnlineBookingSettings, location_id)
    if row is None:
        return OnlineSettingsOut(location_id=location_id, is_default=True)
    return OnlineSettingsOut(
        location_id=location_id,
        enabled=row.enabled,
        hold_minutes=row.hold_minutes,
        open_holds_per_contact=row.open_holds_per_contact,
        holds_per_address_hour=row.holds_per_address_hour,
        codes_per_contact_day=row.codes_per_contact_day,
        is_default=False,
    )


async def put_settings(
    session: AsyncSession,
    location_id: uuid.UUID,
    data: OnlineSettingsIn,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> OnlineSettingsOut:
    await get_location(session, location_id)
    values = {**data.model_dump(), "updated_at": clock.utcnow()}
    statement = insert(OnlineBookingSettings).values(location_id=location_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["location_id"], set_=values)
    )
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="replace_online_settings",
        resource_type="location",
        resource_id=location_id,
        client=client,
        detail={"fields": sorted(data.model_fields_set), "enabled": data.enabled},
    )
    return OnlineSettingsOut(location_id=location_id, is_default=False, **data.model_dump())


async def seed_demo_online_booking(session: AsyncSession, location_id: uuid.UUID) -> list[str]:
    """The demo clinic takes bookings online (unless its settings were saved already)."""
    if await session.get(OnlineBookingSettings, location_id) is not None:
        return []
    await put_settings(
        session, location_id, OnlineSettingsIn(enabled=True), actor=None, client=None
    )
    return ["online booking"]
