"""The development clock: time moved forward for every process of ``clinic dev``.

``start`` is called by every process at start (the API, the worker, beat): in
development it shares the offset (``clock.share_offset``); in production a ``dev-clock``
file in the data folder stops the process, since a moved clock would send reminders
early and expire links. ``router`` (mounted in development only) lets an admin read the
clock and move it forward, each move in the audit trail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.core import audit, clock
from services.core.auth.deps import AdminPrincipal
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.settings import Environment, Settings, SettingsError

MAX_ADVANCE_MINUTES = 366 * 24 * 60


def start(settings: Settings) -> None:
    if settings.env is Environment.development:
        clock.share_offset(settings.data_dir)
        return
    clock.share_offset(None)
    if settings.env is Environment.production and (settings.data_dir / clock.FILE_NAME).exists():
        raise SettingsError(
            f"{settings.data_dir / clock.FILE_NAME} moves the clock, which is for development "
            "only: delete it before running in production"
        )


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=1, le=MAX_ADVANCE_MINUTES, description="How far to move forward")


class DevClock(BaseModel):
    now: datetime = Field(description="The time every process of `clinic dev` sees")
    offset_seconds: int = Field(description="How far ahead of the real time that is")


router = APIRouter(prefix="/api/v1/dev", tags=["development"])


def _answer() -> DevClock:
    return DevClock(now=clock.utcnow(), offset_seconds=int(clock.offset().total_seconds()))


@router.get("/clock", response_model=DevClock)
async def read_clock(admin: AdminPrincipal) -> DevClock:
    """The development clock (only in development)."""
    return _answer()


@router.post("/clock", response_model=DevClock)
async def advance_clock(
    body: Advance,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> DevClock:
    """Move time forward for the API, the worker and beat (never back); what waits on the
    clock (reminders, check-ins, expiries) comes due as if the time had passed."""
    # Audited first: if the row cannot be written, the clock has not moved.
    await audit.record(
        session,
        actor_id=admin.user_id,
        action="advance",
        resource_type="dev_clock",
        resource_id=None,
        client=client,
        detail={"minutes": body.minutes},
    )
    await session.flush()
    clock.advance(settings.data_dir, timedelta(minutes=body.minutes))
    return _answer()
