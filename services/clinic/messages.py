"""Message settings of a location, and the values messaging actually uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.locations import get_location
from services.clinic.models import Location, MessageSettings
from services.clinic.schemas import MessageSettingsIn, MessageSettingsOut
from services.clinic.types import (
    DEFAULT_LATE_CANCEL_MINUTES,
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_REMINDER_OFFSETS,
)
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import ValidationFailed
from services.core.settings import Settings


@dataclass(frozen=True)
class EffectiveMessageSettings:
    """What reminders and quiet hours obey at a location (local times in ``time_zone``)."""

    location_id: uuid.UUID
    time_zone: str
    reminder_offsets_minutes: tuple[int, ...]  # largest first
    quiet_start: time
    quiet_end: time
    sender_name: str
    late_cancel_minutes: int
    alert_email: str | None  # the clinic inbox for urgent check-in alerts


async def get_message_settings(session: AsyncSession, location_id: uuid.UUID) -> MessageSettingsOut:
    await get_location(session, location_id)
    row = await session.get(MessageSettings, location_id)
    if row is None:
        return MessageSettingsOut(
            location_id=location_id,
            reminder_offsets_minutes=list(DEFAULT_REMINDER_OFFSETS),
            quiet_start=DEFAULT_QUIET_START,
            quiet_end=DEFAULT_QUIET_END,
            sender_name=None,
            late_cancel_minutes=DEFAULT_LATE_CANCEL_MINUTES,
            alert_email=None,
            is_default=True,
        )
    return MessageSettingsOut(
        location_id=location_id,
        reminder_offsets_minutes=list(row.reminder_offsets_minutes),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        sender_name=row.sender_name,
        late_cancel_minutes=row.late_cancel_minutes,
        alert_email=row.alert_email,
        is_default=False,
    )


async def put_message_settings(
    session: AsyncSession,
    location_id: uuid.UUID,
    data: MessageSettingsIn,
    *,
    actor: Principal | None,
    client: ClientInfo | None,
) -> MessageSettingsOut:
    await get_location(session, location_id, for_update=True)
    if data.quiet_start == data.quiet_end:
        raise ValidationFailed(
            "Quiet hours must start and end at different times.",
            errors=[{"loc": ["body", "quiet_end"], "msg": "equals quiet_start", "type": "equal"}],
        )
    values: dict[str, object] = {
        "reminder_offsets_minutes": sorted(set(data.reminder_offsets_minutes), reverse=True),
        "quiet_start": data.quiet_start,
        "quiet_end": data.quiet_end,
        "sender_name": data.sender_name,
        "late_cancel_minutes": data.late_cancel_minutes,
        "alert_email": data.alert_email,
        "updated_at": clock.utcnow(),
    }
    row = await session.get(MessageSettings, location_id)
    if row is None:
        session.add(MessageSettings(location_id=location_id, **values))
    else:
        for field, value in values.items():
            setattr(row, field, value)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="update",
        resource_type="message_settings",
        resource_id=location_id,
        client=client,
        detail={"fields": sorted(data.model_fields_set)},
    )
    return await get_message_settings(session, location_id)


def combine(
    location: Location, saved: MessageSettings | None, settings: Settings
) -> EffectiveMessageSettings:
    """The location's saved settings (or the defaults), with the development overrides
    ``CLINIC_REMINDER_OFFSETS`` and ``CLINIC_QUIET_HOURS`` applied on top. Pure, so the
    API (async) and the workers (sync) compute it the same way."""
    offsets = settings.reminder_offsets_minutes or (
        saved.reminder_offsets_minutes if saved else list(DEFAULT_REMINDER_OFFSETS)
    )
    quiet = settings.quiet_hours_window or (
        (saved.quiet_start, saved.quiet_end) if saved else (DEFAULT_QUIET_START, DEFAULT_QUIET_END)
    )
    return EffectiveMessageSettings(
        location_id=location.id,
        time_zone=location.time_zone,
        reminder_offsets_minutes=tuple(sorted(offsets, reverse=True)),
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        sender_name=(saved.sender_name if saved else None) or location.name,
        late_cancel_minutes=saved.late_cancel_minutes if saved else DEFAULT_LATE_CANCEL_MINUTES,
        alert_email=(saved.alert_email if saved else None) or settings.alert_email,
    )


async def effective_message_settings(
    session: AsyncSession, location_id: uuid.UUID, settings: Settings
) -> EffectiveMessageSettings:
    location = await get_location(session, location_id)
    saved = await session.get(MessageSettings, location_id)
    return combine(location, saved, settings)


async def late_cancel_minutes(session: AsyncSession, location_id: uuid.UUID) -> int:
    """How close to the visit a patient's cancellation counts as late (no setting overrides
    it, so this needs no ``Settings``)."""
    minutes = await session.scalar(
        select(MessageSettings.late_cancel_minutes).where(
            MessageSettings.location_id == location_id
        )
    )
    return DEFAULT_LATE_CANCEL_MINUTES if minutes is None else minutes
