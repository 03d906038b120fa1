"""Confirm/cancel links: what a patient may see and do with the token from a message.

The token is the only credential (``resolver.py``): an unknown token is ``NotFound``, and a
known one that no longer works (used, expired, the visit cancelled or moved) is ``Gone``,
with no name, time or clinic. A valid link shows the least a patient needs: first name,
local time, clinic.

Reading (GET) changes nothing but an audit row: mail scanners and link previews open
links. Acting (POST) locks the link, then the appointment, and uses the link up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import lifecycle
from services.appointments.schemas import Cancel, CancelReason, Status
from services.appointments.service import Appointment, record
from services.clinic.service import get_location
from services.core.deps import ClientInfo
from services.core.errors import Gone
from services.core.phones import display_phone
from services.messaging import resolver
from services.messaging.models import ABOUT_UPCOMING, MessageLink
from services.messaging.render import when_text
from services.patients.service import Patient

Action = Literal["confirm", "cancel"]
ACTIONS: tuple[Action, ...] = ("confirm", "cancel")
# A link still works for these; any other status means the visit is settled.
OPEN = (Status.booked, Status.confirmed)
CANCEL_NOTE = "Cancelled by the patient from a message link"
# Copied for each use: a detail dict may end up in an ORM row.
VIA_LINK: dict[str, object] = {"via": "link"}


class BadAction(Exception):
    """The form asked for something other than confirm or cancel."""


@dataclass(frozen=True)
class Visit:
    """What a page may show about the visit: nothing more."""

    first_name: str
    when: str
    clinic: str
    phone: str | None  # the clinic's, for display
    phone_e164: str | None  # the clinic's, for tel: links
    confirmed: bool


@dataclass(frozen=True)
class Outcome:
    visit: Visit
    action: Action


async def _find(
    session: AsyncSession, token: str, secret_key: str, now: datetime, *, lock: bool
) -> tuple[MessageLink, Appointment]:
    # Only links about a visit to come: a check-in link is not a confirm/cancel link.
    link, message = await resolver.resolve(
        session, token, kinds=ABOUT_UPCOMING, secret_key=secret_key, now=now, lock=lock
    )
    # Link first, then appointment: the same order for every request that acts on a link.
    visit = select(Appointment).where(Appointment.id == message.appointment_id)
    appointment = await session.scalar(
        visit.with_for_update().execution_options(populate_existing=True) if lock else visit
    )
    if appointment is None or appointment.status not in OPEN:
        raise Gone(resolver.GONE)
    return link, appointment


async def _visit(session: AsyncSession, appointment: Appointment) -> Visit:
    patient = await session.get_one(Patient, appointment.patient_id)
    location = await get_location(session, appointment.location_id)
    return Visit(
        first_name=patient.preferred_name or patient.given_name,
        when=when_text(appointment.starts_at, ZoneInfo(location.time_zone), long=True),
        clinic=location.name,
        phone=display_phone(location.phone),
        phone_e164=location.phone,
        confirmed=appointment.status == Status.confirmed,
    )


async def show(
    session: AsyncSession, token: str, *, secret_key: str, client: ClientInfo, now: datetime
) -> Visit:
    """The visit behind a working link. Writes only the audit row of the read."""
    _, appointment = await _find(session, token, secret_key, now, lock=False)
    await record(session, None, client, "read", appointment, dict(VIA_LINK))
    return await _visit(session, appointment)


def parse_action(value: object) -> Action:
    for action in ACTIONS:
        if value == action:
            return action
    raise BadAction


async def act(
    session: AsyncSession,
    token: str,
    action: object,
    *,
    secret_key: str,
    client: ClientInfo,
    now: datetime,
) -> Outcome:
    """Confirm or cancel through a working link, and use the link up. The token is
    checked before the action, so an unknown token is a 404 whatever the form says."""
    link, appointment = await _find(session, token, secret_key, now, lock=True)
    chosen = parse_action(action)
    if chosen == "confirm":
        if appointment.status == Status.booked:
            lifecycle.apply(
                session,
                appointment,
                lifecycle.CONFIRM,
                actor_id=None,
                now=now,
                detail=dict(VIA_LINK),
            )
            await session.flush()
            await record(session, None, client, "confirm", appointment, dict(VIA_LINK))
        # Already confirmed: nothing to change; the page thanks them all the same.
    else:
        cancel = Cancel(reason=CancelReason.patient, note=CANCEL_NOTE)
        await lifecycle.cancel_one(session, appointment, cancel, actor=None, client=client, now=now)
    resolver.use(link, now, chosen)
    await session.flush()
    return Outcome(visit=await _visit(session, appointment), action=chosen)
