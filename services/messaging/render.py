"""Message text from Jinja2 templates: first name, clinic, local time, link. Nothing clinical
(an alert email to staff names no patient either).

Templates live in ``templates/messages/{kind}.{channel}.txt`` of the package that
registered the kind (``kinds.py``); an email template's first line is its subject. Text
messages are one line, kept within one GSM-7 segment for usual names and clinic names
(``gsm.segments`` counts what was sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def _texts(package: str) -> Environment:
    # Plain text, never HTML: nothing to escape, and a name like "O'Neil" must stay as typed.
    return Environment(  # noqa: S701
        loader=PackageLoader(package, "templates/messages"),
        undefined=StrictUndefined,
    )


_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


@dataclass(frozen=True)
class Rendered:
    subject: str  # empty for SMS
    body: str


def when_text(instant: datetime, zone: ZoneInfo, *, long: bool = False) -> str:
    """``Wed Dec 9 at 10:00 AM`` (texts) or ``Wednesday, December 9 at 10:00 AM`` (pages):
    the clinic's local wall clock, no year, no zone name."""
    local = instant.astimezone(zone)
    hour = local.hour % 12 or 12
    day = f"{local:%A, %B}" if long else f"{local:%a %b}"
    return f"{day} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def render(
    package: str,
    kind: str,
    channel: str,
    *,
    first_name: str,
    clinic: str,
    starts_at: datetime,
    zone: ZoneInfo,
    link: str | None,
    phone: str | None,
    moved: bool = False,
    hours: int | None = None,
    extra: Mapping[str, object] | None = None,
) -> Rendered:
    text = (
        _texts(package)
        .get_template(f"{kind}.{channel}.txt")
        .render(
            first_name=first_name,
            clinic=clinic,
            when=when_text(starts_at, zone),
            link=link,
            phone=phone,
            moved=moved,
            hours=hours,
            **(extra or {}),
        )
    )
    if channel == "sms":
        return Rendered(subject="", body=" ".join(text.split()))
    subject, _, body = text.strip().partition("\n")
    return Rendered(subject=subject.strip(), body=_BLANK_LINES.sub("\n\n", body).strip() + "\n")
