"""Field types shared by the API schemas."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

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
NOT_BLANK = r"^\s*[^\s\x00][^\x00]*$"


def _strip(value: str) -> str:
    return value.strip()


def required_text(max_length: int) -> tuple[StringConstraints, AfterValidator]:
    """Metadata for ``Annotated[str, *required_text(n)]``: validated as sent, stored stripped.

    Stripping after validation (not before) keeps the schema honest: " x" is valid as the
    schema says, and "   " is refused by the pattern, not by a hidden length check.
    """
    return StringConstraints(max_length=max_length, pattern=NOT_BLANK), AfterValidator(_strip)
