"""Field types shared by the API schemas."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    # Pydantic also takes Unix timestamps ("0", "1700000000"); an API of local clinic
    # times takes ISO 8601 only, so a number is a mistake worth a 422.
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("use an ISO 8601 date-time with an offset, e.g. 2026-03-04T09:00:00-06:00")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]

# PostgreSQL text cannot hold NUL; saying so in the schema makes it a 422 with a field path
# (and tells clients), instead of a failure deep in the database driver.
NO_NUL = r"^[^\x00]*$"
# At least one visible character, no NUL: what a required name or label must hold.
# Spelled out, not \s: Python's \s also matches Unicode spaces such as U+0085 and JSON
# Schema's (ECMAScript's) does not, so clients would disagree with us about what is blank.
_SPACE = " \t\n\r\f\v"
NOT_BLANK = rf"^[{_SPACE}]*[^{_SPACE}\x00][^\x00]*$"


def _strip(value: str) -> str:
    return value.strip(_SPACE)


def required_text(max_length: int) -> tuple[StringConstraints, AfterValidator]:
    """Metadata for ``Annotated[str, *required_text(n)]``: validated as sent, stored stripped.

    Stripping after validation (not before) keeps the schema honest: " x" is valid as the
    schema says, and "   " is refused by the pattern, not by a hidden length check.
    """
    return StringConstraints(max_length=max_length, pattern=NOT_BLANK), AfterValidator(_strip)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: object) -> object:
    # Pydantic also takes Unix timestamps for dates; a clinic calendar date is YYYY-MM-DD.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("use a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """The IANA names this machine's tz database knows, without its file-system aliases."""
    return tuple(sorted(available_timezones() - {"localtime", "posixrules", "Factory"}))


def _known_zone(value: str) -> str:
    if value not in time_zone_names():
        raise ValueError("unknown time zone; use an IANA name such as America/Chicago")
    return value


# The schema lists the names, so clients (and the fuzzer) know an unknown one is refused.
TimeZoneName = Annotated[
    str,
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "enum": list(time_zone_names())}),
]


def _json_number(value: object) -> object:
    # JSON Schema's "integer" includes 30.0 but not "30" or true; lax pydantic takes all
    # three and strict pydantic refuses 30.0, so say exactly what the schema says.
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON number")
    return value


# Request integers as JSON types them: 0 is not false and "30" is not a number. Put it after
# the bounds (Annotated[int, Field(ge=…), JSON_NUMBER]) so the schema shows minimum/maximum.
JSON_NUMBER = BeforeValidator(_json_number)
Flag = StrictBool
