"""The demo clinic's setup: The Balanced Atlas, Chicago (the design story's clinic).

Idempotent: each piece is added only when missing, so a re-run, or a run on a database
where an admin already changed things, adds what is absent and leaves the rest alone.
"""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic import appointment_types, hours, locations, messages, practitioners
from services.clinic.models import (
    AppointmentType,
    Location,
    MessageSettings,
    Practitioner,
    PractitionerLocation,
    Room,
    WorkingHours,
)
from services.clinic.schemas import (
    AppointmentTypeCreate,
    LocationCreate,
    MessageSettingsIn,
    PractitionerCreate,
    RoomCreate,
    WorkingHoursIn,
    WorkingHoursSet,
)
from services.clinic.types import RoomKind
from services.core.auth.models import User

LOCATION = LocationCreate(
    name="The Balanced Atlas",
    address="1200 W Belmont Ave, Chicago, IL 60657",
    phone="+1 312 555 0100",  # not Jordan's number from the story
    time_zone="America/Chicago",
)
ROOMS = (
    ("Adjustment 1", RoomKind.adjustment),
    ("Adjustment 2", RoomKind.adjustment),
    ("X-ray", RoomKind.xray),
    ("Consult", RoomKind.consult),
)
PRACTITIONERS = (
    ("reyes@balanced-atlas.example", "Dr. Ana Reyes"),
    ("okafor@balanced-atlas.example", "Dr. Chidi Okafor"),
)
# Monday to Friday, 08:00-12:00 and 14:00-18:00 local time.
WEEK = [
    WorkingHoursIn(weekday=day, start_time=start, end_time=end)
    for day in range(5)
    for start, end in ((time(8), time(12)), (time(14), time(18)))
]
APPOINTMENT_TYPES = (
    AppointmentTypeCreate(
        name="New patient consultation & exam",
        duration_minutes=60,
        room_kind=RoomKind.xray,
        is_new_patient=True,
        colour="#2E86AB",
        online_bookable=True,  # what a new patient books on /book
    ),
    AppointmentTypeCreate(
        name="NUCCA adjustment follow-up",
        duration_minutes=20,
        room_kind=RoomKind.adjustment,
        colour="#3BB273",
    ),
    AppointmentTypeCreate(
        name="Re-exam", duration_minutes=30, room_kind=RoomKind.adjustment, colour="#E1BC29"
    ),
    AppointmentTypeCreate(
        name="X-ray review", duration_minutes=30, room_kind=RoomKind.consult, colour="#7768AE"
    ),
)


async def seed_clinic(session: AsyncSession) -> list[str]:
    """Adds what is missing of the demo setup; returns what it added, for the CLI to say."""
    added: list[str] = []
    location = await session.scalar(select(Location).where(Location.name == LOCATION.name))
    if location is None:
        location = await locations.create_location(session, LOCATION, actor=None, client=None)
        added.append(f"location {location.name}")
    for name, kind in ROOMS:
        room = select(Room.id).where(Room.location_id == location.id, Room.name == name)
        if await session.scalar(room) is None:
            await locations.create_room(
                session, location.id, RoomCreate(name=name, kind=kind), actor=None, client=None
            )
            added.append(f"room {name}")
    for email, display_name in PRACTITIONERS:
        if await _seed_practitioner(session, location, email, display_name):
            added.append(f"practitioner {display_name}")
    for data in APPOINTMENT_TYPES:
        taken = select(AppointmentType.id).where(AppointmentType.name == data.name)
        if await session.scalar(taken) is None:
            await appointment_types.create_appointment_type(session, data, actor=None, client=None)
            added.append(f"appointment type {data.name}")
    if await session.get(MessageSettings, location.id) is None:
        await messages.put_message_settings(
            session, location.id, MessageSettingsIn(), actor=None, client=None
        )
        added.append("message settings")
    return added


async def _seed_practitioner(
    session: AsyncSession, location: Location, email: str, display_name: str
) -> bool:
    user_id = await session.scalar(select(User.id).where(User.email == email))
    if user_id is None:
        return False  # the demo staff account was removed or never created: nothing to attach
    practitioner = await session.scalar(select(Practitioner).where(Practitioner.user_id == user_id))
    created = practitioner is None
    if practitioner is None:
        view = await practitioners.create_practitioner(
            session,
            PractitionerCreate(
                user_id=user_id,
                display_name=display_name,
                credentials="DC",
                location_ids=[location.id],
            ),
            actor=None,
            client=None,
        )
        practitioner = view.practitioner
    works_here = await session.get(PractitionerLocation, (practitioner.id, location.id))
    if works_here is None:
        return created  # an admin moved them elsewhere; leave that decision alone
    has_hours = select(WorkingHours.id).where(
        WorkingHours.practitioner_id == practitioner.id,
        WorkingHours.location_id == location.id,
    )
    if await session.scalar(has_hours.limit(1)) is None:
        await hours.replace_working_hours(
            session,
            practitioner.id,
            WorkingHoursSet(location_id=location.id, hours=WEEK),
            actor=None,
            client=None,
        )
    return created
