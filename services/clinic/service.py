"""What other domains may use of clinic setup. They import from here, never the models.

Scheduling asks ``working_intervals`` (and the interval helpers) for availability, and the
closures for the days a location is closed (care-plan series, the day sheet); messaging asks
``effective_message_settings`` for reminder offsets and quiet hours.
"""

from __future__ import annotations

from services.clinic.appointment_types import get_appointment_type
from services.clinic.closures import closed_dates, closures_between, describe_closure
from services.clinic.hours import working_intervals, working_intervals_of
from services.clinic.intervals import Interval, clip, local_instant, merge
from services.clinic.locations import default_location, get_location
from services.clinic.lookup import (
    booking_setup,
    get_room,
    practitioners_at,
    rooms_of_kind,
    works_at,
)
from services.clinic.messages import (
    EffectiveMessageSettings,
    combine,
    effective_message_settings,
    late_cancel_minutes,
)
from services.clinic.models import (
    AppointmentType,
    Location,
    LocationClosure,
    MessageSettings,
    Practitioner,
    PractitionerLocation,
    Room,
)
from services.clinic.practitioners import get_practitioner

__all__ = [
    "AppointmentType",
    "EffectiveMessageSettings",
    "Interval",
    "Location",
    "LocationClosure",
    "MessageSettings",
    "Practitioner",
    "PractitionerLocation",
    "Room",
    "booking_setup",
    "clip",
    "closed_dates",
    "closures_between",
    "combine",
    "default_location",
    "describe_closure",
    "effective_message_settings",
    "get_appointment_type",
    "get_location",
    "get_practitioner",
    "get_room",
    "late_cancel_minutes",
    "local_instant",
    "merge",
    "practitioners_at",
    "rooms_of_kind",
    "working_intervals",
    "working_intervals_of",
    "works_at",
]
