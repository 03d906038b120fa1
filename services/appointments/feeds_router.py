"""Calendar feeds: managed under /api/v1 (the practitioner themself or an admin), served
publicly at /ical/{token}.ics (the secret address is the credential)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from services.appointments import feeds
from services.appointments.feeds_schemas import FeedCreate, FeedCreated, FeedOut
from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep, SettingsDep

FeedManager = Annotated[Principal, Depends(require_roles(*feeds.FEED_ROLES))]

_NO_PRACTITIONER: dict[int | str, dict[str, Any]] = {404: {"description": "No practitioner"}}

api = APIRouter(prefix="/api/v1", tags=["calendar feeds"])
public = APIRouter(tags=["calendar feeds"])


@api.post(
    "/practitioners/{practitioner_id}/calendar-feeds",
    response_model=FeedCreated,
    status_code=status.HTTP_201_CREATED,
    responses=_NO_PRACTITIONER,
)
async def create_feed(
    practitioner_id: uuid.UUID,
    body: FeedCreate,
    manager: FeedManager,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> FeedCreated:
    """A new secret calendar address for the practitioner; its ``url`` is shown only in this
    answer. The practitioner themself or an admin (403 for another chiropractor)."""
    created = await feeds.create_feed(
        session,
        practitioner_id,
        body.label,
        secret_key=settings.secret_key,
        actor=manager,
        client=client,
    )
    return FeedCreated(
        id=created.feed.id,
        label=created.feed.label,
        url=created.url,
        created_at=created.feed.created_at,
    )


@api.get(
    "/practitioners/{practitioner_id}/calendar-feeds",
    response_model=list[FeedOut],
    responses=_NO_PRACTITIONER,
)
async def list_feeds(
    practitioner_id: uuid.UUID, manager: FeedManager, session: SessionDep
) -> list[FeedOut]:
    """The practitioner's feeds, revoked ones too, oldest first (never their addresses)."""
    rows = await feeds.list_feeds(session, practitioner_id, actor=manager)
    return [FeedOut.model_validate(r) for r in rows]


@api.delete(
    "/calendar-feeds/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No calendar feed"}},
)
async def revoke_feed(
    feed_id: uuid.UUID, manager: FeedManager, session: SessionDep, client: ClientDep
) -> None:
    """Revoke the feed: its address answers 404 from now on. Revoking again is a 204 too."""
    await feeds.revoke_feed(session, feed_id, actor=manager, client=client)


@public.get(
    feeds.FEED_PATH,
    response_class=Response,
    responses={
        200: {
            "description": "The practitioner's appointments, 30 days back to 180 days ahead",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        404: {
            "description": "No feed at this address (unknown, revoked, expired, or its"
            " practitioner's user deactivated or no longer a chiropractor: the same answer)"
        },
    },
)
async def calendar_feed(
    token: Annotated[str, Path(description="The secret token from the feed's url")],
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """An iCalendar feed (RFC 5545) for calendar apps; no sign-in, the address is the secret.
    Events show patient initials and the appointment type only."""
    body = await feeds.render_feed(
        session,
        token,
        secret_key=settings.secret_key,
        max_age=timedelta(days=settings.feed_max_days),
        client=client,
    )
    return Response(body, media_type="text/calendar; charset=utf-8", headers=feeds.NO_STORE)


router = APIRouter()
router.include_router(api)
router.include_router(public)
