"""What every channel takes and how it fails: messaging's side of the contract that the
worker's channels (``workers/channels``: SMTP, the SMS provider, the outbox folder)
implement. Messaging never imports them; the worker hands ``send_one`` a ``Deliver``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.core.settings import Settings


@dataclass(frozen=True)
class Attachment:
    """A file an email carries (never a text message): the visit as an ``.ics``."""

    filename: str
    content_type: str  # "text/calendar"
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """One rendered message, ready for a channel. ``to`` is E.164 for SMS, an address for
    email; ``subject`` is empty for SMS; ``attachments`` only for email."""

    message_id: uuid.UUID
    channel: str  # "sms" or "email"
    to: str
    subject: str
    body: str
    sender_name: str
    attachments: tuple[Attachment, ...] = ()


class SendFailure(Exception):
    """A send that did not happen. ``code`` is short and holds no PHI (it is stored and
    logged): an SMTP reply code, a provider error code, or an exception class name.
    ``permanent``: retrying cannot help (invalid number, address rejected)."""

    def __init__(self, code: str, *, permanent: bool) -> None:
        super().__init__(code)
        self.code = code[:200]
        self.permanent = permanent


# Sends one message, answers the channel's id for it; raises ``SendFailure``.
Deliver = Callable[[Outgoing, Settings], str]
