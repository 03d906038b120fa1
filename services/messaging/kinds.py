"""Message kinds: the outbox's extension point.

Messaging owns the outbox and its sending loop (``sending.py``); a *kind* says what is
particular to one sort of message: why it must not go out now, where its link leads, who
receives it when staff do, which package's templates render it, which time it names and
what happens once it is sent. Messaging registers the kinds about a visit (confirmation,
reminder, cancellation, waitlist offer, ``appointment_kinds.py``); a package above it
registers its own (checkins: the check-in invitation and the alert email) through the
composition root (``services/wiring.py``), so messaging never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from services.core.settings import Settings
from services.messaging.channels import Attachment
from services.messaging.facts import Facts
from services.messaging.models import Message


def _no_link(session: Session, facts: Facts, settings: Settings, now: datetime) -> str | None:
    return None


def _visit_time(facts: Facts) -> datetime:
    return facts.appointment.starts_at


@dataclass(frozen=True)
class Addressed:
    """Where an addressed kind goes and what its text says: it is for someone who is not a
    patient yet (a booking code), so no patient row, consent or quiet hours apply; they
    asked for it a moment ago. ``values`` are the template's own (``render``'s ``extra``)."""

    channel: str
    to: str
    first_name: str
    clinic: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    # A reason to skip it (None: it still applies), judged with the row locked.
    check: Callable[[Session, Facts, datetime], str | None]
    # A new link for this send (``facts.new_link``), or None.
    link: Callable[[Session, Facts, Settings, datetime], str | None] = _no_link
    # Staff receive it: their addresses (no patient consent, contact or quiet hours apply).
    staff: Callable[[Session, Facts], tuple[str, ...]] | None = None
    # In the transaction that records it sent.
    after_sent: Callable[[Session, Message, Settings, datetime], None] | None = None
    # Pointless once the visit has started: quiet hours that last past it skip it.
    before_visit: bool = False
    # Its existence is clinical (an alert email means a red flag): listed to chiropractors only.
    clinical: bool = False
    # The package whose ``templates/messages/{name}.{channel}.txt`` renders it.
    templates: str = "services.messaging"
    # The time the text names (the visit's, unless the kind says otherwise).
    names_time: Callable[[Facts], datetime] = field(default=_visit_time)
    # For someone not a patient yet (``models.ADDRESSED``): with the row locked, where it
    # goes and what it says, or a reason to skip it. The other fields but ``templates``
    # and ``after_sent`` do not apply.
    addressed: Callable[[Session, Message, Settings, datetime], Addressed | str] | None = None
    # Files its email carries (never a text): the confirmation's visit as an ``.ics``.
    attachments: Callable[[Facts, Settings, datetime], tuple[Attachment, ...]] | None = None


_KINDS: dict[str, Kind] = {}


def register(*kinds: Kind) -> None:
    """Add kinds (registering the same kind again changes nothing)."""
    for kind in kinds:
        known = _KINDS.setdefault(kind.name, kind)
        if known is not kind and known != kind:
            raise ValueError(f"message kind {kind.name!r} is registered twice, differently")


def kind_of(name: str) -> Kind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(
            f"message kind {name!r} is not registered: the composition root registers "
            "every package's kinds (services/wiring.py)"
        ) from None


def clinical() -> tuple[str, ...]:
    """The kinds only chiropractors may see listed."""
    return tuple(name for name, kind in _KINDS.items() if kind.clinical)
