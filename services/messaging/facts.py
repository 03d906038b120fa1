"""What a send knows about its message once the row is locked: one statement's worth
(``sending._locked_facts``), handed to the message's kind (``kinds.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.appointments.service import Appointment
from services.clinic.service import EffectiveMessageSettings, Location
from services.core.settings import Settings
from services.core.tokens import LINK_TOKEN_BYTES, hash_token, new_token
from services.messaging.models import Message, MessageLink
from services.patients.service import Patient


@dataclass
class Facts:
    message: Message
    patient: Patient
    appointment: Appointment
    location: Location
    settings: EffectiveMessageSettings
    consents: bool  # the patient's newest decision on their preferred channel
    staff: tuple[str, ...] = ()  # a staff kind's recipients


def new_link(
    session: Session, facts: Facts, settings: Settings, page: str, expires_at: datetime
) -> str:
    """A new link to ``/{page}/{token}`` for this send (never an update: see MessageLink),
    working until ``expires_at``; ``resolver.py`` resolves it."""
    token = new_token(LINK_TOKEN_BYTES)
    session.add(
        MessageLink(
            token_hash=hash_token(token, settings.secret_key),
            message_id=facts.message.id,
            expires_at=expires_at,
        )
    )
    return f"{settings.public_url.rstrip('/')}/{page}/{token}"
