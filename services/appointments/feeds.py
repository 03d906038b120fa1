"""Calendar feeds: a secret iCalendar address per practitioner, for their phone's calendar.

The address carries a random token (``tokens.new_token``, 256 bits); only its keyed hash is
stored, so the token is shown once, when the feed is created. The feed shows the least PHI a
calendar needs: patient initials and the appointment type, never names or notes.

Object-level rule: an admin, or the chiropractor who is that practitioner
(``practitioners.user_id``), manages a practitioner's feeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import FREED, Appointment, CalendarFeed
from services.clinic.service import AppointmentType, Location, Practitioner, get_practitioner
from services.core import audit, clock
from services.core.auth.access import authorize
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import NotFound
from services.core.tokens import hash_token, new_token
from services.patients.service import Patient

RESOURCE = "calendar_feed"
FEED_ROLES = frozenset({Role.chiropractor, Role.admin})
# The window a feed shows, around the moment it is fetched.
PAST = timedelta(days=30)
AHEAD = timedelta(days=180)
REFRESH = timedelta(minutes=15)
# The answer to a feed (and to a wrong address) is never kept by a cache.
NO_STORE = {"Cache-Control": "no-store, private"}
FEED_PATH = "/ical/{token}.ics"


@dataclass(frozen=True)
class CreatedFeed:
    feed: CalendarFeed
    token: str

    @property
    def url(self) -> str:
        return FEED_PATH.format(token=self.token)


def may_manage(principal: Principal, practitioner: Practitioner) -> bool:
    if Role.admin in principal.roles:
        return True
    return Role.chiropractor in principal.roles and practitioner.user_id == principal.user_id


def token_digest(token: str, secret_key: str) -> str:
    """What ``calendar_feeds.token_hash`` holds: the HMAC-SHA256 of the token, in hex."""
    return hash_token(token, secret_key).hex()


async def _managed_practitioner(
    session: AsyncSession, practitioner_id: uuid.UUID, actor: Principal
) -> Practitioner:
    practitioner = await get_practitioner(session, practitioner_id)  # 404 first
    return authorize(actor, practitioner, may_manage)


async def create_feed(
    session: AsyncSession,
    practitioner_id: uuid.UUID,
    label: str | None,
    *,
    secret_key: str,
    actor: Principal,
    client: ClientInfo,
) -> CreatedFeed:
    practitioner = await _managed_practitioner(session, practitioner_id, actor)
    token = new_token()
    feed = CalendarFeed(
        practitioner_id=practitioner.id,
        token_hash=token_digest(token, secret_key),
        label=label,
        created_by=actor.user_id,
    )
    session.add(feed)
    await session.flush()
    await session.refresh(feed)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="create",
        resource_type=RESOURCE,
        resource_id=feed.id,
        client=client,
        detail={"practitioner_id": str(practitioner.id)},
    )
    return CreatedFeed(feed, token)


async def list_feeds(
    session: AsyncSession, practitioner_id: uuid.UUID, *, actor: Principal
) -> Sequence[CalendarFeed]:
    """Every feed of the practitioner, revoked ones too, oldest first."""
    practitioner = await _managed_practitioner(session, practitioner_id, actor)
    query = (
        select(CalendarFeed)
        .where(CalendarFeed.practitioner_id == practitioner.id)
        .order_by(CalendarFeed.created_at, CalendarFeed.id)
    )
    return (await session.scalars(query)).all()


async def revoke_feed(
    session: AsyncSession, feed_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    """Stop the feed's address from working. Revoking a revoked feed changes nothing."""
    feed = await session.get(CalendarFeed, feed_id, with_for_update=True)
    if feed is None:
        raise NotFound("No calendar feed with this id.")
    await _managed_practitioner(session, feed.practitioner_id, actor)
    if feed.revoked_at is not None:
        return
    feed.revoked_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="revoke",
        resource_type=RESOURCE,
        resource_id=feed.id,
        client=client,
        detail={"practitioner_id": str(feed.practitioner_id)},
    )


def initials(given_name: str, family_name: str) -> str:
    """Initials only, as a calendar shows them: Jordan Lee is "J.L."."""
    return "".join(f"{name.strip()[:1].upper()}." for name in (given_name, family_name) if name)


async def render_feed(
    session: AsyncSession,
    token: str,
    *,
    secret_key: str,
    max_age: timedelta,
    client: ClientInfo,
) -> bytes:
    """The practitioner's appointments that hold time, 30 days back to 180 ahead, as iCalendar.

    An unknown, malformed, revoked or expired token (older than ``max_age``), and the feed
    of a practitioner whose user is deactivated or no longer a chiropractor, are the same
    404: the answer says nothing about which. A served feed sets ``last_used_at`` and
    leaves one audit row (no actor).
    """
    now = clock.utcnow()
    feed = await session.scalar(
        select(CalendarFeed)
        .join(Practitioner, Practitioner.id == CalendarFeed.practitioner_id)
        .join(User, User.id == Practitioner.user_id)
        .where(
            CalendarFeed.token_hash == token_digest(token, secret_key),
            CalendarFeed.revoked_at.is_(None),
            CalendarFeed.created_at > now - max_age,
            # A long-lived secret is only as good as the access of the person it serves.
            User.is_active.is_(True),
            User.roles.contains([Role.chiropractor.value]),
        )
        .with_for_update(of=CalendarFeed)
    )
    if feed is None:
        raise NotFound("No calendar feed at this address.", headers=NO_STORE)
    practitioner = await get_practitioner(session, feed.practitioner_id)
    # Only the initials leave the database: no names, no notes.
    rows = (
        await session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                func.left(Patient.given_name, 1),
                func.left(Patient.family_name, 1),
                AppointmentType.name,
                Location.name,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Location, Location.id == Appointment.location_id)
            .where(
                Appointment.practitioner_id == practitioner.id,
                Appointment.status.not_in(FREED),
                Appointment.starts_at >= now - PAST,
                Appointment.starts_at < now + AHEAD,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    ).all()
    calendar = Calendar()
    calendar.add("prodid", "-//Clinic practice management//Calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", practitioner.display_name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for appointment_id, starts_at, ends_at, status, given, family, type_name, place in rows:
        event = Event()
        event.add("uid", f"{appointment_id}@clinic")
        event.add("dtstamp", _utc(now))
        event.add("dtstart", _utc(starts_at))
        event.add("dtend", _utc(ends_at))
        event.add("summary", f"{initials(given, family)} · {type_name}")
        event.add("location", place)
        event.add("status", "TENTATIVE" if status == "booked" else "CONFIRMED")
        calendar.add_component(event)
    feed.last_used_at = now
    await session.flush()
    await audit.record(
        session,
        actor_id=None,
        action="read_calendar_feed",
        resource_type=RESOURCE,
        resource_id=feed.id,
        client=client,
        detail={"practitioner_id": str(practitioner.id), "events": len(rows)},
    )
    ical: bytes = calendar.to_ical()
    return ical


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
