"""Booking codes: six digits, never stored, and the outbox kind that sends them.

A code is derived from the request's random ``code_nonce`` and the server's secret key
(HMAC-SHA256), when it is sent and when it is checked: the database holds only the nonce,
useless without the key (a stored hash of six digits would be guessed offline in a
second). A new code (a resend) is a new nonce, and the older one stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from services.clinic.service import Location, MessageSettings, combine
from services.core.settings import Settings
from services.messaging.kinds import Addressed, Kind
from services.messaging.service import Message
from services.online.models import BookingRequest

DIGITS = 6
NONCE_BYTES = 16
TEMPLATES = "services.online"


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def code_for(nonce: bytes, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"booking-code:" + nonce, hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def matches(typed: str, nonce: bytes, secret_key: str) -> bool:
    return hmac.compare_digest(typed.encode(), code_for(nonce, secret_key).encode())


def _address(
    session: Session, message: Message, settings: Settings, now: datetime
) -> Addressed | str:
    """Where the code goes, with the row locked: nowhere once the request is gone, expired
    or has a newer code."""
    # Read again (not from the session's identity map): deleted with its hold meanwhile?
    request = session.get(BookingRequest, message.booking_request_id, populate_existing=True)
    if request is None:
        return "request_gone"
    if request.expires_at <= now:
        return "request_expired"
    if request.code_nonce is None or request.codes_sent != message.code_round:
        return "code_replaced"
    to = request.phone if request.channel == "sms" else request.email
    if request.blocked or not to or not request.channel or not request.given_name:
        return "no_contact"
    location = session.get(Location, request.location_id)
    if location is None:
        return "no_location"
    sender = combine(location, session.get(MessageSettings, location.id), settings).sender_name
    minutes = max(1, math.ceil((request.expires_at - now).total_seconds() / 60))
    return Addressed(
        channel=request.channel,
        to=to,
        first_name=request.given_name,
        clinic=sender,
        values={"code": code_for(request.code_nonce, settings.secret_key), "minutes": minutes},
    )


def _nothing_to_check(session: Session, facts: object, now: datetime) -> str | None:
    return None


KINDS = (Kind("booking_code", _nothing_to_check, templates=TEMPLATES, addressed=_address),)
