"""Phone numbers: parsed with the numbering plan (``phonenumbers``) and stored as E.164.

Shared by every domain that keeps a phone number, so one number is written one way and a
reminder's SMS goes to what the front desk typed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import phonenumbers
from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from services.core.settings import Settings

NOT_A_PHONE = "not a valid phone number; include the country code, e.g. +1 312 555 0142"


def parse_phone(raw: str, region: str) -> str:
    """``raw`` as E.164 (``+13125550142``); ``region`` applies to numbers without ``+``."""
    try:
        number = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException:
        raise ValueError(NOT_A_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(NOT_A_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1)
def default_region() -> str:
    # Its own read of the settings, not get_settings(): validating a field (even at import)
    # must not fill that cache before a worker or a test has set its CLINIC_* variables.
    return Settings().phone_region


def _to_e164(raw: str) -> str:
    return parse_phone(raw, default_region())


# "format: phone" tells clients (and the schema fuzzer) that not every string is a number:
# validity follows the numbering plan, which no pattern can express.
Phone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    AfterValidator(_to_e164),
    WithJsonSchema(
        {"type": "string", "format": "phone", "maxLength": 32, "examples": ["+1 312 555 0142"]}
    ),
]


def display_phone(e164: str | None) -> str | None:
    """A stored number as people in its country write it: ``(312) 555-0142``."""
    if not e164:
        return None
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )
