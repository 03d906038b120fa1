"""A patient books themselves: hold a time, give their details, prove their phone or email
with a code, and the hold becomes their appointment.

1. ``hold_time``: a hold (an appointment row ``held``: ``appointments.holds``) for the
   location's ``hold_minutes``, and a request with a random token (hashed at rest) that the
   pages carry in their path. Throttled per client address.
2. ``give_details``: what they typed, checked; a code through the outbox (SMS or email as
   chosen). Throttled per contact, at most ``open_holds_per_contact`` holds per contact. A
   filled honeypot or a blocked contact goes on exactly like anyone else, and nothing is
   sent; at step 3 nothing is booked.
3. ``verify``: five tries; the right code finds or registers the patient
   (``patients.online``) and confirms the hold, which sends the confirmation and reminders
   as for a front-desk booking. The request (and the details in it) is then deleted.

An unverified hold expires by itself (``holds.sweep``), taking its request with it.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment, Place, hold, holds
from services.clinic.service import AppointmentType, Location, Practitioner, works_at
from services.core import audit
from services.core.database import Database
from services.core.deps import ClientInfo
from services.core.errors import AppError, Conflict, Gone, NotFound, ValidationFailed
from services.core.throttle import service as throttle
from services.core.tokens import LINK_TOKEN_BYTES, hash_token, new_token
from services.messaging.service import Message
from services.online import blocklist, catalog, codes
from services.online.models import BookingRequest, OnlineBookingSettings
from services.online.schemas import OnlineSettingsOut
from services.patients.online import Applicant, patient_for

TRIES = 5  # wrong codes per request, across resends
CODES = 3  # codes per request (the first and two resends)
RESOURCE = "online_booking"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TOO_MANY = "Too many attempts; try again later, or call the clinic."


class Unavailable(AppError):
    """The time cannot be held (taken meanwhile, outside the type's reach, closed): the
    page offers the nearest free times instead."""

    status, code, title = 409, "unavailable", "Time not available"


class Refused(AppError):
    """Too many attempts from one address or for one contact (one message for every
    reason: a refusal says nothing about anyone's booking)."""

    status, code, title = 429, "too-many-requests", "Too Many Requests"


class ContactLocked(AppError):
    """A code went out: the contact it proves cannot change (``field`` is the form's)."""

    status, code, title = 422, "contact-locked", "Unprocessable Content"


def address_key(address: str | None) -> str:
    """The throttle's client: an IPv4 address, or an IPv6 /64 (one subscriber's
    allocation: its addresses are free to rotate through)."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def contact_key(contact: str, secret_key: str) -> str:
    """A contact as a throttle key: keyed-hashed (no phone or email at rest in the counters)
    and case-folded (``Robin@`` and ``robin@`` are one inbox to count)."""
    return hash_token(contact.strip().lower(), secret_key).hex()[:32]


@dataclass(frozen=True)
class Held:
    """What the pages show about a request: the time, nothing about anyone else."""

    request: BookingRequest
    location: Location
    kind: AppointmentType
    practitioner: Practitioner
    starts_at: datetime  # local

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.location.time_zone)


@dataclass(frozen=True)
class Booked:
    first_name: str
    starts_at: datetime  # local
    location: Location
    kind: AppointmentType
    practitioner: Practitioner


async def _limit(
    database: Database, key: str, limit: int, window: timedelta, now: datetime
) -> None:
    hit = await throttle.hit_alone(database, key, limit=limit, window=window, now=now)
    if not hit.allowed:
        raise Refused(
            "Too many attempts; try again later.", headers={"Retry-After": str(hit.retry_after)}
        )


async def hold_time(
    session: AsyncSession,
    database: Database,
    *,
    location_id: uuid.UUID,
    type_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    starts_at: datetime,
    client: ClientInfo,
    user_agent: str | None,
    secret_key: str,
    now: datetime,
) -> str:
    """Hold the time; answers the request's token (for the page's path)."""
    location, settings = await catalog.open_location(session, location_id)
    kind = await catalog.bookable_type(session, type_id)
    zone = ZoneInfo(location.time_zone)
    low, high = catalog.reach(kind, zone, now)
    if not low <= starts_at < high or not catalog.on_grid(starts_at, zone):
        raise Unavailable("This time cannot be booked online.")
    practitioner = await session.get(Practitioner, practitioner_id)
    if practitioner is None or not practitioner.is_active:
        raise NotFound("No such practitioner here.")
    if location.id not in await works_at(session, practitioner_id):
        raise NotFound("No such practitioner here.")
    address = address_key(client.address)
    await _limit(database, f"online:hold:{address}", settings.holds_per_address_hour, HOUR, now)
    # An expired hold may be what is in the way: this patient gets its time at once.
    await holds.sweep(session, now)
    until = now + timedelta(minutes=settings.hold_minutes)
    spot = Place(
        patient_id=None,
        practitioner=practitioner,
        location=location,
        kind=kind,
        starts_at=starts_at,
        source="online",
    )
    try:
        kept = await hold(session, spot, until=until, now=now)
    except (Conflict, ValidationFailed):
        raise Unavailable("Someone else has just taken this time.") from None
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        BookingRequest(
            token_hash=hash_token(token, secret_key),
            hold_id=kept.id,
            location_id=location.id,
            expires_at=until,
            client_addr=client.address,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    await session.flush()
    return token


async def find(
    session: AsyncSession, token: str, *, secret_key: str, now: datetime, lock: bool = False
) -> Held:
    """The live request of ``token``: 404 for no such token, 410 once it expired."""
    query = (
        select(BookingRequest, Appointment, Location, AppointmentType, Practitioner)
        .join(Appointment, Appointment.id == BookingRequest.hold_id)
        .join(Location, Location.id == BookingRequest.location_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .where(BookingRequest.token_hash == hash_token(token, secret_key))
    )
    if lock:
        # Both rows, request first then hold: the sweep skips a hold locked here (SKIP
        # LOCKED), so the two never wait on each other in opposite orders.
        query = query.with_for_update(of=[BookingRequest, Appointment])
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound("This booking page is not valid.")
    request, appointment, location, kind, practitioner = row
    if request.expires_at <= now or appointment.status != "held":
        raise Gone("This time is no longer held.")
    zone = ZoneInfo(location.time_zone)
    return Held(request, location, kind, practitioner, appointment.starts_at.astimezone(zone))


async def _open_holds(
    session: AsyncSession, request: BookingRequest, who: Applicant, now: datetime
) -> int:
    """Other live requests with the same phone or email."""
    same = [
        column == value
        for column, value in ((BookingRequest.phone, who.phone), (BookingRequest.email, who.email))
        if value
    ]
    count = await session.scalar(
        select(func.count())
        .select_from(BookingRequest)
        .where(or_(*same), BookingRequest.id != request.id, BookingRequest.expires_at > now)
    )
    return int(count or 0)


async def give_details(
    session: AsyncSession,
    database: Database,
    token: str,
    who: Applicant,
    *,
    honeypot: bool,
    language: str,
    client: ClientInfo,
    secret_key: str,
    now: datetime,
) -> Held:
    """Store what the patient typed and send them a code (a new one each time: a resend
    is the same call with the details already given). At most ``CODES`` codes a request,
    to one contact: once a code went out, the contact it proves stays. Refusals write
    nothing."""
    held = await find(session, token, secret_key=secret_key, now=now, lock=True)
    request = held.request
    settings = await session.get(OnlineBookingSettings, held.location.id)
    limits = settings or OnlineSettingsOut(location_id=held.location.id, is_default=True)
    contact = (who.phone if who.channel == "sms" else who.email) or ""
    if request.code_nonce is not None:
        sent_to = request.phone if request.channel == "sms" else request.email
        if (request.channel, (sent_to or "").lower()) != (who.channel, contact.lower()):
            field = "phone" if who.channel == "sms" else "email"
            raise ContactLocked(
                "We sent your code there already; to use another, choose the time again.",
                field=field,
            )
    if request.codes_sent >= CODES:
        raise Refused(TOO_MANY)
    address = address_key(client.address)
    await _limit(database, f"online:codes:{address}", limits.holds_per_address_hour, HOUR, now)
    key = contact_key(contact, secret_key)
    await _limit(database, f"online:code:{key}", limits.codes_per_contact_day, DAY, now)
    if await _open_holds(session, request, who, now) >= limits.open_holds_per_contact:
        raise Refused(TOO_MANY)
    request.given_name, request.family_name = who.given_name, who.family_name
    request.date_of_birth, request.phone, request.email = who.date_of_birth, who.phone, who.email
    request.channel, request.language = who.channel, language
    request.sms_consent, request.email_consent = who.sms_consent, who.email_consent
    request.blocked = (
        request.blocked
        or honeypot
        or await blocklist.is_blocked(session, phone=who.phone, email=who.email)
    )
    # A new code, the same count of tries: five wrong codes per request, resends or not.
    request.code_nonce, request.code_sent_at = codes.new_nonce(), now
    request.codes_sent += 1
    if not request.blocked:
        session.add(
            Message(
                kind="booking_code",
                patient_id=None,
                booking_request_id=request.id,
                code_round=request.codes_sent,
                location_id=held.location.id,
                channel=who.channel,
                send_at=now,
                change="requested",
            )
        )
    await session.flush()
    return held


def applicant_of(held: Held) -> Applicant | None:
    """The details already given (for a resend), None before."""
    request = held.request
    if not (request.given_name and request.family_name and request.date_of_birth):
        return None
    return _applicant(request)


async def verify(
    session: AsyncSession,
    token: str,
    typed: str,
    *,
    secret_key: str,
    client: ClientInfo,
    now: datetime,
) -> Booked | int:
    """The booking, or the tries left after a wrong code. 410 after the last try (the time
    is given back) or once expired."""
    held = await find(session, token, secret_key=secret_key, now=now, lock=True)
    request = held.request
    if request.code_nonce is None or request.given_name is None:
        raise Gone("No code was sent for this booking yet.")
    # Blocked (or a honeypot filled): no code was sent, and none is right; the pages are
    # those of someone whose code did not arrive.
    if request.blocked or not codes.matches(typed.strip(), request.code_nonce, secret_key):
        request.tries += 1
        if request.tries >= TRIES:
            await holds.release(session, request.hold_id)  # the request goes with it
            raise Gone("Too many wrong codes; choose a time again.", keep_changes=True)
        await session.flush()
        return TRIES - request.tries
    who = _applicant(request)
    patient_id = await patient_for(
        session, who, location_id=held.location.id, time_zone=held.location.time_zone, client=client
    )
    appointment = await holds.confirm(
        session, request.hold_id, patient_id, now=now, local_date=held.starts_at.date()
    )
    await audit.record_about(
        session,
        appointment,
        actor_id=None,
        action="create",
        resource_type="appointment",
        client=client,
        detail={"source": "online"},
    )
    await session.execute(delete(BookingRequest).where(BookingRequest.id == request.id))
    return _booked(held)


def _applicant(request: BookingRequest) -> Applicant:
    assert request.given_name and request.family_name and request.date_of_birth
    assert request.channel is not None
    return Applicant(
        given_name=request.given_name,
        family_name=request.family_name,
        date_of_birth=request.date_of_birth,
        phone=request.phone,
        email=request.email,
        channel=request.channel,
        sms_consent=request.sms_consent,
        email_consent=request.email_consent,
    )


def _booked(held: Held) -> Booked:
    return Booked(
        first_name=held.request.given_name or "",
        starts_at=held.starts_at,
        location=held.location,
        kind=held.kind,
        practitioner=held.practitioner,
    )


async def let_go(session: AsyncSession, token: str, *, secret_key: str, now: datetime) -> None:
    """The patient chose another time: give this one back (its request goes with it)."""
    held = await find(session, token, secret_key=secret_key, now=now, lock=True)
    await holds.release(session, held.request.hold_id)
