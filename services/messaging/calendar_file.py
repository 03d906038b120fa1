"""The visit as a calendar file (``.ics``) for the patient's own calendar, attached to the
confirmation email: the time, the clinic and its address, nothing clinical (no type of
visit: calendars are synced to other people's servers) and no link (the link is a
credential; it stays in the email)."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event

from services.core.settings import Settings
from services.messaging.channels import Attachment
from services.messaging.facts import Facts

FILENAME = "appointment.ics"


def visit_calendar(facts: Facts, settings: Settings, now: datetime) -> tuple[Attachment, ...]:
    appointment, location = facts.appointment, facts.location
    calendar = Calendar()
    calendar.add("prodid", "-//Clinic practice management//Appointment//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    # One visit, one event: a resend (or a calendar importing it twice) updates it.
    domain = settings.email_from.rpartition("@")[2] or "clinic"
    event.add("uid", f"{appointment.id}@{domain}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("summary", f"Appointment at {facts.settings.sender_name}")
    if location.address:
        event.add("location", location.address)
    calendar.add_component(event)
    return (Attachment(FILENAME, "text/calendar", calendar.to_ical()),)
