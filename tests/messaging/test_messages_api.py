"""The front desk's view of the outbox and of texts patients sent in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from services.messaging import models
from services.messaging.models import InboundSms, Message
from services.messaging.schemas import InboundAction, MessageChannel, MessageKind, MessageStatus
from tests.appointments.conftest import Clinic, at, booked
from tests.factories import Factory, Staff
from tests.messaging.support import messages_of, reachable

MESSAGES = "/api/v1/messages"
INBOUND = "/api/v1/inbound-sms"
FIELDS = {
    "id",
    "kind",
    "channel",
    "status",
    "reason",
    "send_at",
    "sent_at",
    "attempts",
    "checkin_id",
    "last_error",
    "provider_id",
    "appointment_id",
    "patient_id",
    "created_at",
    "history",
}


def test_the_schema_values_are_the_tables() -> None:
    assert get_args(MessageKind) == models.KINDS
    assert get_args(MessageChannel) == models.CHANNELS
    assert get_args(MessageStatus) == models.STATUSES
    assert set(get_args(InboundAction)) == {"confirmed", "opted_out", "stored"}


async def _fail(session: AsyncSession, message: Message) -> None:
    """What the dispatcher and the sender leave after a permanent failure (the history
    trigger records each change)."""
    await session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(status="queued", queued_at=func.now(), change="claimed")
    )
    await session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(
            status="failed",
            queued_at=None,
            reason="invalid_number",
            last_error="invalid_number",
            attempts=1,
            change="send_failed",
        )
    )


async def _send(session: AsyncSession, message: Message) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(status="sent", sent_at=func.now(), provider_id="SM0001", attempts=1)
    )


async def _get(client: httpx.AsyncClient, staff: Staff, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=staff.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def outbox(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> dict[str, list[Message]]:
    """Two visits of one patient and one of another; three messages each."""
    first, second = clinic.patients[0], clinic.patients[1]
    await reachable(session, first)
    await reachable(session, second, phone="+13125550199")
    made = {
        "a": await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00"))),
        "b": await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00"))),
        "c": await booked(
            client, clinic.desk, clinic.body(at(clinic.monday, "11:00"), patient_id=str(second.id))
        ),
    }
    return {key: await messages_of(session, answer["id"]) for key, answer in made.items()}


async def test_messages_of_an_appointment_with_their_history_never_their_text(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    outbox: dict[str, list[Message]],
) -> None:
    confirmation = outbox["a"][0]
    await _fail(session, confirmation)

    page = await _get(
        client, clinic.desk, MESSAGES, appointment_id=str(confirmation.appointment_id)
    )

    assert {item["id"] for item in page["items"]} == {str(m.id) for m in outbox["a"]}
    assert all(set(item) == FIELDS for item in page["items"])  # no body, no subject
    failed = next(item for item in page["items"] if item["id"] == str(confirmation.id))
    assert (failed["status"], failed["reason"], failed["last_error"], failed["attempts"]) == (
        "failed",
        "invalid_number",
        "invalid_number",
        1,
    )
    assert [(h["status"], h["detail"]["why"]) for h in failed["history"]] == [
        ("pending", "booked"),
        ("queued", "claimed"),
        ("failed", "send_failed"),
    ]
    assert failed["history"][-1]["detail"]["error"] == "invalid_number"


async def test_failed_messages_are_one_filter_away(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    outbox: dict[str, list[Message]],
) -> None:
    await _fail(session, outbox["a"][1])
    await _fail(session, outbox["c"][0])
    await _send(session, outbox["b"][0])

    failed = await _get(client, clinic.desk, MESSAGES, status="failed")
    assert {item["id"] for item in failed["items"]} == {
        str(outbox["a"][1].id),
        str(outbox["c"][0].id),
    }
    both = await _get(client, clinic.desk, MESSAGES, status=["failed", "sent"])
    assert len(both["items"]) == 3
    sent = next(item for item in both["items"] if item["status"] == "sent")
    assert sent["provider_id"] == "SM0001" and sent["sent_at"] is not None
    response = await client.get(MESSAGES, params={"status": "lost"}, headers=clinic.desk.headers)
    assert response.status_code == 422


async def test_a_patients_messages_newest_first_and_paged(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    outbox: dict[str, list[Message]],
) -> None:
    # Everything in a test is one transaction (one now()): give the rows distinct ages.
    mine = outbox["a"] + outbox["b"]
    base = datetime.now(UTC) - timedelta(hours=1)
    for n, message in enumerate(mine):
        await session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(created_at=base + timedelta(minutes=n))
        )
    patient_id = str(clinic.patients[0].id)

    first = await _get(client, clinic.desk, MESSAGES, patient_id=patient_id, limit=4)
    rest = await _get(client, clinic.desk, MESSAGES, patient_id=patient_id, limit=4, offset=4)

    newest_first = [str(m.id) for m in reversed(mine)]
    assert [item["id"] for item in first["items"]] == newest_first[:4]
    assert first["has_more"] is True
    assert [item["id"] for item in rest["items"]] == newest_first[4:]
    assert rest["has_more"] is False
    assert all(item["patient_id"] == patient_id for item in first["items"] + rest["items"])


async def test_listing_messages_is_audited_per_patient(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    outbox: dict[str, list[Message]],
) -> None:
    page = await _get(client, clinic.chiro, MESSAGES)
    listed = {item["id"]: item["patient_id"] for item in page["items"]}
    assert len(listed) == 9

    rows = (
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "message",
                AuditEvent.action == "list",
                AuditEvent.actor_id == clinic.chiro.user.id,
            )
        )
    ).all()
    assert {r.resource_id: r.detail["patient_id"] for r in rows} == listed


@pytest.mark.parametrize("role", list(Role))
async def test_every_staff_role_sees_messages(
    client: httpx.AsyncClient, factory: Factory, role: Role, outbox: dict[str, list[Message]]
) -> None:
    staff = await factory.staff(role)
    assert len((await _get(client, staff, MESSAGES))["items"]) == 9
    assert "items" in await _get(client, staff, INBOUND)


async def test_signed_out_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(MESSAGES)).status_code == 401
    assert (await client.get(INBOUND)).status_code == 401


async def _texts(session: AsyncSession, clinic: Clinic) -> list[uuid.UUID]:
    """Three texts an hour apart, oldest first: two from a patient, one from a stranger."""
    base = datetime.now(UTC) - timedelta(hours=5)
    values = [
        ("SMa", "+13125550142", "C", clinic.patients[0].id, "stored"),
        ("SMb", "+13125550177", "who is this?", None, "stored"),
        ("SMc", "+13125550142", "Running late", clinic.patients[0].id, "stored"),
    ]
    ids = []
    for n, (sid, sender, body, patient_id, action) in enumerate(values):
        row = InboundSms(
            provider_id=f"{sid}-{uuid.uuid4().hex[:8]}",
            from_phone=sender,
            body=body,
            patient_id=patient_id,
            action=action,
            received_at=base + timedelta(hours=n),
        )
        session.add(row)
        await session.flush()
        ids.append(row.id)
    return ids


async def test_inbound_texts_newest_first_audited_per_patient(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    oldest, stranger, newest = await _texts(session, clinic)

    page = await _get(client, clinic.desk, INBOUND)

    ours = [item for item in page["items"] if uuid.UUID(item["id"]) in {oldest, stranger, newest}]
    assert [item["id"] for item in ours] == [str(newest), str(stranger), str(oldest)]
    assert ours[0]["body"] == "Running late"
    assert ours[1]["patient_id"] is None
    audited = {
        r.resource_id: r.detail.get("patient_id")
        for r in await session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "inbound_sms",
                AuditEvent.action == "list",
                AuditEvent.actor_id == clinic.desk.user.id,
            )
        )
    }
    patient = str(clinic.patients[0].id)
    assert audited[str(oldest)] == patient and audited[str(newest)] == patient
    assert audited[str(stranger)] is None  # audited by itself: no patient to file it under

    theirs = await _get(client, clinic.desk, INBOUND, patient_id=patient)
    assert [item["id"] for item in theirs["items"]] == [str(newest), str(oldest)]
