"""The SMS provider's webhook: signed requests only; C confirms, STOP opts out, once each."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.app import create_app
from services.checkins.models import Checkin
from services.core.audit.models import AuditEvent
from services.core.database import Database
from services.core.settings import Settings
from services.messaging.models import InboundSms, Message, MessageEvent
from services.messaging.signature import valid_signature
from services.patients.models import PatientConsent
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked
from tests.checkins.support import complete
from tests.messaging.support import PHONE, fresh, history, messages_of, reachable

AUTH_TOKEN = "twilio-test-auth-token"
PUBLIC_URL = "https://clinic.example/"  # the trailing slash is not part of the signed URL
SIGNED_URL = "https://clinic.example/webhooks/sms"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_sids = itertools.count(1)


def signature(params: dict[str, str], url: str = SIGNED_URL, token: str = AUTH_TOKEN) -> str:
    """Written out here from Twilio's documentation, independently of the code under test."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(
        hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


@pytest.fixture
async def provider(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app configured with an SMS auth token, as in production."""
    configured = settings.model_copy(
        update={"sms_auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL}
    )
    transport = httpx.ASGITransport(
        app=create_app(configured, database=database), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="https://clinic.example") as client:
        yield client


def inbound(body: str, sender: str = PHONE, sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+13125550100",
        "Body": body,
    }


async def text(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/webhooks/sms", data=params, headers={"X-Twilio-Signature": signature(params)}
    )


async def received(session: AsyncSession, sid: str) -> list[InboundSms]:
    rows = await session.scalars(
        select(InboundSms)
        .where(InboundSms.provider_id == sid)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def test_twilios_published_example_verifies() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert valid_signature(url, params, "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not valid_signature(
        url, {**params, "Digits": "9"}, "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    assert not valid_signature(url, params, "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ")
    assert not valid_signature(url, params, "other", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not valid_signature(url, params, "12345", "ünïcödé")


@pytest.mark.parametrize(
    "case", ["missing", "wrong token", "wrong url", "tampered body", "garbage", "empty"]
)
async def test_an_unsigned_or_badly_signed_request_is_403(
    provider: httpx.AsyncClient, session: AsyncSession, case: str
) -> None:
    params = inbound("STOP")
    headers = {
        "missing": {},
        "wrong token": {"X-Twilio-Signature": signature(params, token="not-ours")},
        "wrong url": {"X-Twilio-Signature": signature(params, url="https://evil.example/sms")},
        "tampered body": {"X-Twilio-Signature": signature({**params, "Body": "hello"})},
        "garbage": {"X-Twilio-Signature": "%%%"},
        "empty": {"X-Twilio-Signature": ""},
    }[case]

    response = await provider.post("/webhooks/sms", data=params, headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await received(session, params["MessageSid"]) == []


async def test_without_an_auth_token_nothing_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The default settings have no auth token: a 403 (never a 500), even when signed."""
    params = inbound("C")
    response = await client.post(
        "/webhooks/sms", data=params, headers={"X-Twilio-Signature": signature(params)}
    )
    assert response.status_code == 403
    assert await received(session, params["MessageSid"]) == []


async def test_a_signed_request_without_its_fields_is_422(provider: httpx.AsyncClient) -> None:
    params = {"To": "+13125550100", "From": "x" * 30}
    response = await text(provider, params)
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "MessageSid"),
        ("body", "Body"),
        ("body", "From"),
    }


@pytest.mark.parametrize("word", ["C", " yes ", "Y", "confirm", "Yes"])
async def test_a_confirm_word_confirms_the_next_booked_visit(
    provider: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    word: str,
) -> None:
    await reachable(session, clinic.patients[0])
    later = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "15:00")))
    sooner = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    params = inbound(word)

    response = await text(provider, params)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == TWIML
    assert (await fresh(session, sooner["id"])).status == "confirmed"
    assert (await fresh(session, later["id"])).status == "booked"
    change = (await history(session, sooner["id"]))[-1]
    assert change.actor_id is None and change.detail == {"via": "sms"}
    [row] = await received(session, params["MessageSid"])
    assert (row.action, row.appointment_id, row.patient_id) == (
        "confirmed",
        change.appointment_id,
        clinic.patients[0].id,
    )
    assert row.body == word
    audited = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == sooner["id"], AuditEvent.action == "confirm"
        )
    )
    assert audited is not None and audited.actor_id is None and audited.detail["via"] == "sms"


async def test_a_shared_number_confirms_the_earliest_visit_of_any_of_its_patients(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    parent, child = clinic.patients[0], clinic.patients[1]
    await reachable(session, parent)
    await reachable(session, child)
    confirmed_already = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "08:00"), patient_id=str(parent.id))
    )
    await client.post(
        f"{APPOINTMENTS}/{confirmed_already['id']}/confirm", headers=clinic.desk.headers
    )
    parents = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "11:00"), patient_id=str(parent.id))
    )
    childs = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "10:00"), patient_id=str(child.id))
    )

    # The reply is about the next visit, which is confirmed already: nothing else changes
    # (a C to today's reminder must not confirm next week's visit).
    assert (await text(provider, inbound("C"))).status_code == 200
    assert (await fresh(session, childs["id"])).status == "booked"

    cancelled = await client.post(
        f"{APPOINTMENTS}/{confirmed_already['id']}/cancel",
        json={"reason": "clinic"},
        headers=clinic.desk.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await text(provider, inbound("C"))).status_code == 200
    assert (await fresh(session, childs["id"])).status == "confirmed"
    assert (await fresh(session, parents["id"])).status == "booked"


async def test_a_confirm_word_with_nothing_booked_is_stored(
    provider: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    params = inbound("C")
    assert (await text(provider, params)).status_code == 200
    [row] = await received(session, params["MessageSid"])
    assert (row.action, row.patient_id, row.appointment_id) == (
        "stored",
        clinic.patients[0].id,
        None,
    )


async def test_stop_withdraws_consent_and_cancels_waiting_texts(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    parent, child, other = clinic.patients[0], clinic.patients[1], clinic.patients[2]
    for patient in (parent, child):
        await reachable(session, patient)
    await reachable(session, other, phone="+13125550199")
    ours = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "10:00"), patient_id=str(child.id))
    )
    theirs = await booked(
        client, clinic.desk, clinic.body(at(clinic.monday, "11:00"), patient_id=str(other.id))
    )
    params = inbound("  Stop ")

    assert (await text(provider, params)).status_code == 200

    for patient in (parent, child):
        latest = await session.scalar(
            select(PatientConsent)
            .where(PatientConsent.patient_id == patient.id, PatientConsent.channel == "sms")
            .order_by(PatientConsent.recorded_at.desc())
            .limit(1)
        )
        assert latest is not None
        assert (latest.granted, latest.method, latest.recorded_by, latest.note) == (
            False,
            "electronic",
            None,
            "Replied STOP by text message",
        )
    rows = await messages_of(session, ours["id"])
    assert {(m.status, m.reason) for m in rows} == {("cancelled", "opted_out")}
    for message in rows:
        events = await session.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message.id)
            .order_by(MessageEvent.id)
        )
        assert [(e.status, e.detail.get("reason")) for e in events][-1] == (
            "cancelled",
            "opted_out",
        )
    assert {m.status for m in await messages_of(session, theirs["id"])} == {"pending"}
    assert (await fresh(session, ours["id"])).status == "booked"  # the visit itself stands
    [row] = await received(session, params["MessageSid"])
    assert row.action == "opted_out"
    assert row.patient_id is None  # two patients share the number: neither is assumed


async def test_any_other_text_is_stored_for_the_front_desk(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    params = inbound("Running 10 min late, sorry! C u soon")

    assert (await text(provider, params)).status_code == 200

    [row] = await received(session, params["MessageSid"])
    assert (row.action, row.patient_id, row.body) == (
        "stored",
        clinic.patients[0].id,
        params["Body"],
    )
    assert (await fresh(session, made["id"])).status == "booked"
    unknown = inbound("STOP", sender="+13125550177")
    assert (await text(provider, unknown)).status_code == 200
    [row] = await received(session, unknown["MessageSid"])
    assert (row.action, row.patient_id) == ("stored", None)


async def test_a_retried_delivery_is_processed_once(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    first = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    second = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    params = inbound("C")

    for _ in range(3):
        response = await text(provider, params)
        assert response.status_code == 200
        assert response.text == TWIML

    assert len(await received(session, params["MessageSid"])) == 1
    assert (await fresh(session, first["id"])).status == "confirmed"
    assert (await fresh(session, second["id"])).status == "booked"  # not confirmed by a retry
    receipts = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "inbound_sms", AuditEvent.action == "receive"
        )
    )
    assert len(list(receipts)) == 1


async def test_a_past_visit_is_not_confirmed(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    appointment = await fresh(session, made["id"])
    start = datetime.now(UTC) - timedelta(hours=1)
    appointment.starts_at, appointment.ends_at = start, start + timedelta(minutes=30)
    appointment.held_from, appointment.held_until = start, start + timedelta(minutes=30)
    await session.flush()

    assert (await text(provider, inbound("YES"))).status_code == 200

    assert (await fresh(session, made["id"])).status == "booked"


async def test_stop_cancels_check_ins_not_yet_sent(
    provider: httpx.AsyncClient, client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    patient = await reachable(session, clinic.patients[0])
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    await complete(client, clinic, made["id"])
    checkin = (await session.scalars(select(Checkin).where(Checkin.patient_id == patient.id))).one()

    assert (await text(provider, inbound("STOP"))).status_code == 200

    invitation = (
        await session.scalars(select(Message).where(Message.checkin_id == checkin.id))
    ).one()
    await session.refresh(invitation)
    await session.refresh(checkin)
    assert (invitation.status, invitation.reason) == ("cancelled", "opted_out")
    assert checkin.status == "cancelled"
