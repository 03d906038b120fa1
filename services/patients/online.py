"""Patients who book online: find the record a verified contact belongs to, or register a
new one flagged for the front desk. Nothing here says to the caller which of the two
happened in a way a page could show: the booking pages say the same either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Float, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit
from services.core.deps import ClientInfo
from services.patients import consents
from services.patients.models import Patient
from services.patients.schemas import ConsentIn
from services.patients.service import DUPLICATE_NAME_SIMILARITY, RESOURCE

# The tag that puts a record made online in front of the front desk (searchable, removable
# once reviewed).
BOOKED_ONLINE = "booked-online"


@dataclass(frozen=True)
class Applicant:
    """What someone booking online typed, with the contact they proved (``channel``)."""

    given_name: str
    family_name: str
    date_of_birth: date
    phone: str | None
    email: str | None
    channel: str  # "sms" or "email": the one the code went to
    sms_consent: bool
    email_consent: bool


async def find_verified(session: AsyncSession, who: Applicant) -> Patient | None:
    """The one active record with the proven contact, the same birth date and a similar
    name (the duplicate guard's rule); None when there is none, or more than one."""
    contact = Patient.phone == who.phone if who.channel == "sms" else Patient.email == who.email
    name = func.clinic_unaccent(func.lower(literal(f"{who.given_name} {who.family_name}")))
    found = (
        await session.scalars(
            select(Patient)
            .where(
                contact,
                Patient.status == "active",
                Patient.date_of_birth == who.date_of_birth,
                func.similarity(Patient.search_name, name)
                >= literal(DUPLICATE_NAME_SIMILARITY, Float),
            )
            .limit(2)
        )
    ).all()
    return found[0] if len(found) == 1 else None


async def patient_for(
    session: AsyncSession,
    who: Applicant,
    *,
    location_id: uuid.UUID,
    time_zone: str,
    client: ClientInfo,
) -> uuid.UUID:
    """The record ``who`` is (``find_verified``), else a new one tagged ``booked-online``
    with the proven contact only (the other was typed, not proven). The proven channel's
    consent, as ticked, is recorded on either (``electronic``, by nobody on the staff)."""
    patient = await find_verified(session, who)
    created = patient is None
    if patient is None:
        patient = Patient(
            given_name=who.given_name,
            family_name=who.family_name,
            date_of_birth=who.date_of_birth,
            phone=who.phone if who.channel == "sms" else None,
            email=who.email if who.channel == "email" else None,
            preferred_channel=who.channel,
            time_zone=time_zone,
            home_location_id=location_id,
            tags=[BOOKED_ONLINE],
        )
        session.add(patient)
        await session.flush()
    granted = who.sms_consent if who.channel == "sms" else who.email_consent
    decision = ConsentIn(
        channel=who.channel, granted=granted, method="electronic", note="online booking"
    )
    session.add(consents.new_consent(patient.id, decision, None))
    await audit.record(
        session,
        actor_id=None,
        action="create" if created else "online_booking_match",
        resource_type=RESOURCE,
        resource_id=patient.id,
        client=client,
        detail={"source": "online"},
    )
    return patient.id
