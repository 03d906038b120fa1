"""Field types of the clinic setup API: room kinds, local times, dates and time zones."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from services.core.types import required_text

# Message defaults of a location with no saved settings (the table's defaults say the same).
DEFAULT_REMINDER_OFFSETS = (2880, 120)  # 48 h and 2 h before
DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)
DEFAULT_LATE_CANCEL_MINUTES = 1440
# Online booking, per appointment type: no start sooner than this (the clinic sees the
# booking before the visit), and no further ahead than this.
DEFAULT_ONLINE_NOTICE_MINUTES = 720
DEFAULT_ONLINE_DAYS_AHEAD = 60


class RoomKind(StrEnum):
    adjustment = "adjustment"
    xray = "xray"
    consult = "consult"


class ExceptionKind(StrEnum):
    time_off = "time_off"
    extra_hours = "extra_hours"


Name = Annotated[str, *required_text(200)]
RoomName = Annotated[str, *required_text(100)]
OptionalText500 = Annotated[str, *required_text(500)]
Credentials = Annotated[str, *required_text(50)]
SenderName = Annotated[str, *required_text(100)]
Reason = Annotated[str, *required_text(200)]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_HHMM_SCHEMA = r"^([01]\d|2[0-3]):[0-5]\d$"


def _hhmm(value: object) -> object:
    # Local wall-clock times are whole minutes with no offset: "08:00". Pydantic would also
    # take "08:00:00.5+02:00", which means nothing for a weekly opening hour.
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError("use a local time as HH:MM, e.g. 08:30")
    return time(int(value[:2]), int(value[3:]))


LocalTime = Annotated[
    time,
    BeforeValidator(_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": _HHMM_SCHEMA, "examples": ["08:30"]}),
]


HexColour = Annotated[
    str,
    StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"),
    AfterValidator(str.upper),
]
