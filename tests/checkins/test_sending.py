"""Sending check-in invitations and alert emails: the same send path as every message,
with the rules of their own (one link per send for 72 h, no two check-ins within 72 h,
alerts to staff whatever the hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.checkins.expiry import expire_unanswered
from services.checkins.models import Checkin
from services.clinic.models import MessageSettings, Practitioner
from services.core.auth.models import User
from services.core.settings import Settings
from services.messaging.models import Message, MessageLink
from services.messaging.schedule import alert_raised
from services.patients.models import Patient, PatientConsent
from tests.appointments.conftest import Clinic, at, booked
from tests.checkins.support import complete, invitation, new_checkin, sent_checkin, visit_of
from tests.messaging.outbox_world import quiet_hours_away_from_now
from tests.messaging.support import reachable, send_now


@pytest.fixture
def outbox(settings: Settings, tmp_path: Path) -> Settings:
    """Messages written to a folder of this test's, quiet hours out of the way."""
    return settings.model_copy(
        update={"data_dir": tmp_path, "quiet_hours": quiet_hours_away_from_now()}
    )


def _written(settings: Settings, message: Message) -> str:
    return (settings.outbox_dir / f"{message.id}.txt").read_text()


async def _completed(client: httpx.AsyncClient, clinic: Clinic, hhmm: str = "10:00") -> str:
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, hhmm)))
    await complete(client, clinic, made["id"])
    return str(made["id"])


async def _invitation(session: AsyncSession, appointment_id: str) -> tuple[Checkin, Message]:
    checkin = (
        await session.scalars(select(Checkin).where(Checkin.appointment_id == appointment_id))
    ).one()
    message = (await session.scalars(select(Message).where(Message.checkin_id == checkin.id))).one()
    return checkin, message


async def test_an_invitation_goes_out_with_a_new_link_for_72_hours(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    await reachable(session, clinic.patients[0])
    checkin, message = await _invitation(session, await _completed(client, clinic))
    before = datetime.now(UTC)

    assert await send_now(session, message, outbox) == "sent"

    await session.refresh(checkin)
    assert checkin.status == "sent" and checkin.sent_at is not None
    assert checkin.expires_at is not None
    assert timedelta(hours=72) <= checkin.expires_at - before <= timedelta(hours=72, minutes=1)
    [link] = await session.scalars(select(MessageLink).where(MessageLink.message_id == message.id))
    assert link.expires_at == checkin.expires_at
    text = _written(outbox, message)
    assert f"{outbox.public_url}/c/" in text
    assert "how are you since your visit?" in text
    # Nothing clinical and no surname in a text message.
    assert clinic.patients[0].family_name not in text
    # A check-in link is not a confirm/cancel link.
    token = text.split("/c/")[1].split()[0]
    assert (await client.get(f"/a/{token}")).status_code == 404


async def test_no_second_checkin_within_72_hours_of_one_sent(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    patient = await reachable(session, clinic.patients[0])
    await sent_checkin(session, outbox, appointment=await visit_of(session, clinic, patient))
    checkin, message = await _invitation(session, await _completed(client, clinic))

    assert await send_now(session, message, outbox) == "skipped"
    assert message.reason == "recent_checkin"
    await session.refresh(checkin)
    assert checkin.status == "cancelled"  # the trigger follows the invitation


async def test_an_invitation_being_sent_counts_as_sent_for_the_72_hours(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    """The first invitation's worker committed "sending" and released the advisory lock;
    it still waits on the provider (for a week, even: the reaper resends it) when the
    second is judged."""
    patient = await reachable(session, clinic.patients[0])
    visit = await visit_of(session, clinic, patient)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    first = await new_checkin(session, visit, due_at=week_ago)
    await invitation(session, visit, first, status="sending", sending_since=week_ago, attempts=1)
    checkin, message = await _invitation(session, await _completed(client, clinic))

    assert await send_now(session, message, outbox) == "skipped"
    assert message.reason == "recent_checkin"
    await session.refresh(checkin)
    assert checkin.status == "cancelled"


async def test_consent_withdrawn_before_the_send_cancels_the_checkin(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    patient = await reachable(session, clinic.patients[0])
    checkin, message = await _invitation(session, await _completed(client, clinic))
    session.add(
        PatientConsent(
            patient_id=patient.id,
            channel="sms",
            granted=False,
            method="verbal",
            recorded_at=datetime.now(UTC),
        )
    )
    await session.flush()

    assert await send_now(session, message, outbox) == "skipped"
    assert message.reason == "no_consent"
    await session.refresh(checkin)
    assert checkin.status == "cancelled"
    assert not (outbox.outbox_dir / f"{message.id}.txt").exists()


async def test_an_alert_email_goes_to_the_practitioner_and_the_clinic_at_any_hour(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    patient = await reachable(session, clinic.patients[0])
    appointment_id = await _completed(client, clinic)
    checkin, _ = await _invitation(session, appointment_id)
    session.add(MessageSettings(location_id=clinic.location.id, alert_email="Desk@Clinic.example"))
    await session.flush()
    visit = await session.get_one(Appointment, appointment_id)
    await alert_raised(session, visit, patient, checkin.id)
    alert = (
        await session.scalars(
            select(Message).where(Message.checkin_id == checkin.id, Message.kind == "alert")
        )
    ).one()
    assert (alert.channel, alert.status) == ("email", "pending")
    # Now, inside quiet hours: staff are told all the same.
    all_night = outbox.model_copy(update={"quiet_hours": "00:00-23:59"})

    assert await send_now(session, alert, all_night) == "sent"

    text = _written(all_night, alert)
    practitioner = await session.get_one(User, clinic.dr_a.user_id)
    to = next(line for line in text.splitlines() if line.startswith("To: "))
    assert to == f"To: {practitioner.email.lower()}, desk@clinic.example"
    assert "Urgent check-in alert" in text
    assert f"{outbox.public_url}/api/v1/alerts?status=open" in text
    for private in (patient.given_name, patient.family_name, patient.phone or "-"):
        assert private not in text


async def test_an_alert_goes_to_no_former_practitioner_and_says_when_nobody_is_left(
    session: AsyncSession, settings: Settings, outbox: Settings
) -> None:
    checkin, _ = await sent_checkin(session, settings)
    visit = await session.get_one(Appointment, checkin.appointment_id)
    patient = await session.get_one(Patient, checkin.patient_id)
    await session.execute(
        update(User)
        .where(
            User.id
            == select(Practitioner.user_id)
            .where(Practitioner.id == visit.practitioner_id)
            .scalar_subquery()
        )
        .values(is_active=False)
    )
    await alert_raised(session, visit, patient, checkin.id)
    alert = (
        await session.scalars(
            select(Message).where(Message.checkin_id == checkin.id, Message.kind == "alert")
        )
    ).one()

    assert (
        await send_now(session, alert, outbox.model_copy(update={"alert_email": None})) == "skipped"
    )
    assert alert.reason == "no_recipient"


async def test_a_sent_checkin_past_its_expiry_becomes_expired_once(
    session: AsyncSession, settings: Settings
) -> None:
    late, _ = await sent_checkin(session, settings, expires_in=timedelta(seconds=-1))
    current, _ = await sent_checkin(session, settings)
    now = datetime.now(UTC)

    assert await session.run_sync(lambda sync: expire_unanswered(sync, now)) >= 1
    assert await session.run_sync(lambda sync: expire_unanswered(sync, now)) == 0
    await session.refresh(late)
    await session.refresh(current)
    assert (late.status, current.status) == ("expired", "sent")


async def test_an_alert_for_a_practitioner_who_left_goes_to_the_locations_others(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, outbox: Settings
) -> None:
    patient = await reachable(session, clinic.patients[0])
    checkin, _ = await _invitation(session, await _completed(client, clinic))
    dr_a = await session.get_one(Practitioner, clinic.dr_a.id)
    dr_a.is_active = False  # the profile is closed; the login may live on (an admin, say)
    await session.flush()
    visit = await session.get_one(Appointment, checkin.appointment_id)
    await alert_raised(session, visit, patient, checkin.id)
    alert = (
        await session.scalars(
            select(Message).where(Message.checkin_id == checkin.id, Message.kind == "alert")
        )
    ).one()

    assert await send_now(session, alert, outbox.model_copy(update={"alert_email": None})) == "sent"

    dr_b = await session.get_one(User, clinic.dr_b.user_id)
    to = next(line for line in _written(outbox, alert).splitlines() if line.startswith("To: "))
    assert to == f"To: {dr_b.email.lower()}"


async def test_the_front_desk_does_not_see_alert_emails_in_the_message_list(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    """An alert email exists only because of a red flag: clinical, for chiropractors."""
    patient = await reachable(session, clinic.patients[0])
    checkin, _ = await _invitation(session, await _completed(client, clinic))
    visit = await session.get_one(Appointment, checkin.appointment_id)
    await alert_raised(session, visit, patient, checkin.id)

    def kinds(answer: httpx.Response) -> set[str]:
        assert answer.status_code == 200, answer.text
        return {m["kind"] for m in answer.json()["items"]}

    params = {"patient_id": str(patient.id)}
    desk = await client.get("/api/v1/messages", params=params, headers=clinic.desk.headers)
    doctor = await client.get("/api/v1/messages", params=params, headers=clinic.chiro.headers)
    assert "alert" not in kinds(desk) and "checkin" in kinds(desk)
    assert "alert" in kinds(doctor)
