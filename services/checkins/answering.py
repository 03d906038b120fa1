"""Answering a check-in through the link in its invitation: the token is the credential.

Like confirm/cancel links, the token is resolved by ``services/messaging/resolver.py``, so
the answer reveals nothing: an unknown token (or a link that is not a check-in's) is
always ``NotFound``; a known one that no longer works (link used, link expired, check-in
answered, expired or cancelled) is always ``Gone``, with no name and no clinic.

Reading the form (``show``) writes nothing but an audit row: link scanners open links too.
Submitting locks the link, then the check-in (always in that order), validates the answers
(``scoring.validate``), stores them with their observations and at most one alert, and
uses the link up.

Baseline pain for the "pain worse" alert: the patient's earliest ``pain_nrs`` observation
recorded before now, whatever its source (normally the intake visit's note); with none,
there is no baseline and no pain alert. The earliest, not the latest, so a slow drift up
over several check-ins still counts against where care started.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment
from services.checkins import questionnaire, scoring
from services.checkins.models import AUDIT_RESOURCE, Alert, Checkin, CheckinAnswers
from services.checkins.questionnaire import (
    ChoiceItem,
    CountItem,
    NrsItem,
    Questionnaire,
    TextItem,
    YesNoItem,
)
from services.clinic.service import effective_message_settings, get_location
from services.core import audit
from services.core.deps import ClientInfo
from services.core.errors import Gone
from services.core.phones import display_phone
from services.core.settings import Settings
from services.messaging import resolver, schedule
from services.messaging.service import MessageLink
from services.notes import service as notes
from services.patients.service import Patient

USED_FOR = "answered"
CHECKIN_KIND = "checkin"  # the outbox kind of an invitation
# A link of a send whose outcome was a retry (the provider timed out after accepting the
# text) belongs to a check-in still ``scheduled``: the patient has it, so it works too.
OPEN = ("scheduled", "sent")
Encoding = Literal["json", "form"]
# A whole number as typed in a form; longer digit strings are not ours to convert.
_WHOLE = re.compile(r"^\s*-?[0-9]{1,9}\s*$")


@dataclass(frozen=True)
class CheckinForm:
    """What the form may show: nothing more."""

    first_name: str
    clinic: str
    definition: Questionnaire


@dataclass(frozen=True)
class Thanks:
    first_name: str
    clinic: str
    phone: str | None  # the clinic's, for display
    phone_e164: str | None  # the clinic's, for tel: links
    red_flag: bool


class AnswersInvalid(Exception):
    """The submission has errors; ``form`` lets the page show the questions again."""

    def __init__(self, errors: list[scoring.AnswerError], form: CheckinForm) -> None:
        super().__init__(f"{len(errors)} invalid answer(s)")
        self.errors = errors
        self.form = form


async def _find(
    session: AsyncSession, token: str, secret_key: str, now: datetime, *, lock: bool
) -> tuple[MessageLink, Checkin]:
    link, message = await resolver.resolve(
        session, token, kinds=(CHECKIN_KIND,), secret_key=secret_key, now=now, lock=lock
    )
    # Link first, then check-in: the same order for every request that answers one.
    checkin = await session.get(
        Checkin,
        message.checkin_id,
        with_for_update=lock,
        populate_existing=lock,
    )
    if checkin is None or checkin.status not in OPEN:
        raise Gone(resolver.GONE)
    return link, checkin


async def _form(
    session: AsyncSession, checkin: Checkin, appointment: Appointment, settings: Settings
) -> CheckinForm:
    patient = await session.get_one(Patient, checkin.patient_id)
    sender = await effective_message_settings(session, appointment.location_id, settings)
    return CheckinForm(
        first_name=patient.preferred_name or patient.given_name,
        clinic=sender.sender_name,
        definition=questionnaire.load(checkin.questionnaire_key, checkin.questionnaire_version),
    )


async def _audit(
    session: AsyncSession,
    checkin: Checkin,
    client: ClientInfo,
    action: str,
    detail: dict[str, Any],
) -> None:
    await audit.record_about(
        session,
        checkin,
        actor_id=None,  # the patient, through a link in a message
        action=action,
        resource_type=AUDIT_RESOURCE,
        client=client,
        detail={"via": "link", **detail},
    )


async def show(
    session: AsyncSession, token: str, *, settings: Settings, client: ClientInfo, now: datetime
) -> CheckinForm:
    """The questionnaire behind a working link. Writes only the audit row of the read."""
    _, checkin = await _find(session, token, settings.secret_key, now, lock=False)
    appointment = await session.get_one(Appointment, checkin.appointment_id)
    await _audit(session, checkin, client, "read", {})
    return await _form(session, checkin, appointment, settings)


def from_form(form: Mapping[str, str], definition: Questionnaire) -> dict[str, object]:
    """Form strings as the types ``scoring.validate`` expects. A value that does not
    convert is passed on as typed, so it becomes that item's validation error; an empty
    field is no answer; a name the questionnaire does not ask is kept (and refused)."""
    answers: dict[str, object] = {}
    for name, raw in form.items():
        item = definition.item(name)
        if raw.strip() == "" and item is not None:
            continue
        if isinstance(item, NrsItem | CountItem | ChoiceItem) and _WHOLE.match(raw):
            answers[name] = int(raw)
        elif isinstance(item, YesNoItem) and raw in ("yes", "no"):
            answers[name] = raw == "yes"
        else:
            answers[name] = raw
    return answers


def _problems(
    answers: Mapping[str, object], definition: Questionnaire
) -> list[scoring.AnswerError]:
    """``scoring.validate``, plus text the database cannot store (a NUL character)."""
    errors = scoring.validate(answers, definition)
    for item in definition.items:
        value = answers.get(item.id)
        if isinstance(item, TextItem) and isinstance(value, str) and "\x00" in value:
            errors.append(
                scoring.AnswerError(("answers", item.id), "Remove the NUL character.", "string")
            )
    return errors


def _kept(answers: Mapping[str, object], definition: Questionnaire) -> dict[str, object]:
    """Valid answers as stored: the questionnaire's order, blank text and nulls left out."""
    kept: dict[str, object] = {}
    for item in definition.items:
        value = answers.get(item.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        kept[item.id] = value
    return kept


async def submit(
    session: AsyncSession,
    token: str,
    answers: Mapping[str, object],
    *,
    encoding: Encoding,
    settings: Settings,
    client: ClientInfo,
    now: datetime,
) -> Thanks:
    """Store the answers of a working link and use it up. ``encoding`` "form": the
    answers are the form's strings, converted here against the check-in's questionnaire.
    The token is checked before the answers, so an unknown token is a 404 whatever the
    body says."""
    link, checkin = await _find(session, token, settings.secret_key, now, lock=True)
    appointment = await session.get_one(Appointment, checkin.appointment_id)
    form = await _form(session, checkin, appointment, settings)
    definition = form.definition
    if encoding == "form":
        answers = from_form({name: str(value) for name, value in answers.items()}, definition)
    errors = _problems(answers, definition)
    if errors:
        if encoding == "form":  # the page shows the patient's name again
            await _audit(session, checkin, client, "read", {"invalid": True})
        raise AnswersInvalid(errors, form)

    kept = _kept(answers, definition)
    session.add(CheckinAnswers(checkin_id=checkin.id, answers=kept, received_at=now))
    notes.record_checkin_observations(
        session,
        scoring.observations(kept, definition),
        patient_id=checkin.patient_id,
        checkin_id=checkin.id,
        appointment_id=checkin.appointment_id,
        at=now,
    )
    baseline = await notes.earliest_value(session, checkin.patient_id, scoring.PAIN_CODE, now)
    raised = scoring.alerts_for(kept, definition, baseline)
    severity = raised[0].severity if raised else None  # urgent ones come first
    if raised:
        session.add(
            Alert(
                patient_id=checkin.patient_id,
                checkin_id=checkin.id,
                severity=severity,
                reasons=[alert.reason for alert in raised],
            )
        )
    if checkin.sent_at is None:  # answered through the link of a send thought failed
        checkin.sent_at, checkin.expires_at = link.created_at, link.expires_at
    checkin.status, checkin.answered_at = "answered", now
    resolver.use(link, now, USED_FOR)
    await session.flush()
    patient = await session.get_one(Patient, checkin.patient_id)
    if severity == "urgent":
        await schedule.alert_raised(session, appointment, patient, checkin.id)
    # What was answered stays out of the audit trail: only that it was, and what it raised.
    await _audit(session, checkin, client, "answer", {"alert": severity})
    location = await get_location(session, appointment.location_id)
    return Thanks(
        first_name=form.first_name,
        clinic=form.clinic,
        phone=display_phone(location.phone),
        phone_e164=location.phone,
        red_flag=severity == "urgent",
    )
