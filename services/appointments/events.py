"""What appointments announces, in the transaction that did it (``core/events.py``).

Appointments knows nobody who listens: the composition root subscribes messaging
(confirmations, reminders, notices, waitlist offers) and checkins (invitations, weekly
plans). Each event carries the rows as they are after the change, flushed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.appointments.models import Appointment


@dataclass(frozen=True)
class Booked:
    """A new appointment (front desk, a series occurrence). ``confirm``: the patient is to
    be told now (a care plan confirms its first visit only)."""

    appointment: Appointment
    confirm: bool = True


@dataclass(frozen=True)
class Moved:
    """``old`` (now ``rescheduled``) was replaced by ``new``; ``confirm`` as for Booked."""

    old: Appointment
    new: Appointment
    confirm: bool = True


@dataclass(frozen=True)
class Cancelled:
    """``notify``: the patient is to be told (unless nothing about it reached them)."""

    appointment: Appointment
    notify: bool = True


@dataclass(frozen=True)
class Completed:
    appointment: Appointment


@dataclass(frozen=True)
class WaitlistOffered:
    """``appointment``'s freed time is offered to the waitlisted ``patient_id``."""

    appointment: Appointment
    patient_id: uuid.UUID


@dataclass(frozen=True)
class CarePlanEnded:
    """The series has no visit to come (cancelled, no-shows, or ended)."""

    series_id: uuid.UUID
