"""The patient's confirm/cancel page: what it shows, what it changes, what it never says."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.clinic.models import MessageSettings
from services.core.audit.models import AuditEvent
from services.core.settings import Settings
from services.messaging.links import CANCEL_NOTE
from services.messaging.models import Message, MessageLink
from services.patients.models import Patient
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked
from tests.messaging.support import fresh, history, make_link, messages_of, reachable


@dataclass
class Visit:
    id: str
    token: str
    patient: Patient

    @property
    def url(self) -> str:
        return f"/a/{self.token}"


async def _visit(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, settings: Settings
) -> Visit:
    patient = await reachable(session, clinic.patients[0])
    patient.preferred_name = "Jojo"
    await session.flush()
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    return Visit(made["id"], await make_link(session, settings, made["id"]), patient)


@pytest.fixture
async def visit(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, settings: Settings
) -> Visit:
    return await _visit(client, clinic, session, settings)


async def post(client: httpx.AsyncClient, url: str, action: str) -> httpx.Response:
    return await client.post(url, data={"action": action})


async def _link(session: AsyncSession, appointment_id: str) -> MessageLink:
    return await session.get_one(
        MessageLink,
        await session.scalar(
            select(MessageLink.token_hash)
            .join(Message, Message.id == MessageLink.message_id)
            .where(Message.appointment_id == uuid.UUID(appointment_id))
        ),
        populate_existing=True,
    )


async def _audit(session: AsyncSession, appointment_id: str, action: str) -> list[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "appointment",
            AuditEvent.resource_id == appointment_id,
            AuditEvent.action == action,
        )
    )
    return list(rows)


async def test_the_page_shows_first_name_local_time_and_clinic(
    client: httpx.AsyncClient, clinic: Clinic, visit: Visit
) -> None:
    response = await client.get(visit.url)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    monday = clinic.monday
    assert f"{monday:%A, %B} {monday.day} at 10:00 AM" in page  # Chicago wall clock
    assert "Jojo" in page  # the preferred name, never the full name
    assert visit.patient.family_name not in page
    assert clinic.location.name in page
    assert 'name="action" value="confirm"' in page
    assert 'name="action" value="cancel"' in page
    assert page.count('method="post"') == 2
    assert 'name="viewport"' in page
    assert "<script" not in page


async def test_opening_the_link_changes_nothing_but_the_audit_trail(
    client: httpx.AsyncClient, session: AsyncSession, visit: Visit
) -> None:
    before = [(c.id, c.to_status) for c in await history(session, visit.id)]

    for _ in range(3):  # a mail scanner, a link preview, the patient
        assert (await client.get(visit.url)).status_code == 200

    assert (await fresh(session, visit.id)).status == "booked"
    assert [(c.id, c.to_status) for c in await history(session, visit.id)] == before
    link = await _link(session, visit.id)
    assert link.used_at is None and link.used_for is None
    reads = await _audit(session, visit.id, "read")
    assert len(reads) == 3
    assert all(r.actor_id is None and r.detail["via"] == "link" for r in reads)


async def test_confirm_uses_the_link_up(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, visit: Visit
) -> None:
    response = await post(client, visit.url, "confirm")

    assert response.status_code == 200
    monday = clinic.monday
    assert f"Your visit on {monday:%A, %B} {monday.day} at 10:00 AM is confirmed" in response.text
    assert (await fresh(session, visit.id)).status == "confirmed"
    change = (await history(session, visit.id))[-1]
    assert (change.from_status, change.to_status) == ("booked", "confirmed")
    assert change.actor_id is None and change.detail == {"via": "link"}
    link = await _link(session, visit.id)
    assert link.used_at is not None and link.used_for == "confirm"
    [audited] = await _audit(session, visit.id, "confirm")
    assert audited.actor_id is None and audited.detail["via"] == "link"

    again = await post(client, visit.url, "confirm")
    assert again.status_code == 410
    assert "no longer works" in again.text
    assert (await client.get(visit.url)).status_code == 410
    assert len(await history(session, visit.id)) == 2  # booked, confirmed: nothing twice


async def test_an_already_confirmed_visit_is_thanked_not_confirmed_again(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, visit: Visit
) -> None:
    confirmed = await client.post(f"{APPOINTMENTS}/{visit.id}/confirm", headers=clinic.desk.headers)
    assert confirmed.status_code == 200
    page = (await client.get(visit.url)).text
    assert "already confirmed" in page
    assert 'value="confirm"' not in page  # only the cancel button is left
    assert 'value="cancel"' in page
    changes = len(await history(session, visit.id))

    response = await post(client, visit.url, "confirm")

    assert response.status_code == 200
    assert "is confirmed" in response.text
    assert len(await history(session, visit.id)) == changes
    assert (await _link(session, visit.id)).used_for == "confirm"


async def test_cancel_frees_the_visit_and_cancels_waiting_messages(
    client: httpx.AsyncClient, session: AsyncSession, visit: Visit
) -> None:
    # The message carrying the link went out; the rest wait.
    assert sorted(m.status for m in await messages_of(session, visit.id)) == [
        "pending",
        "pending",
        "sent",
    ]

    response = await post(client, visit.url, "cancel")

    assert response.status_code == 200
    assert "is cancelled" in response.text
    assert "book again" in response.text
    appointment = await fresh(session, visit.id)
    assert appointment.status == "cancelled"
    assert appointment.cancel_reason == "patient"
    assert appointment.late_cancel is False  # two weeks ahead
    change = (await history(session, visit.id))[-1]
    assert change.actor_id is None and change.detail["note"] == CANCEL_NOTE
    assert {(m.kind, m.status, m.reason) for m in await messages_of(session, visit.id)} == {
        ("confirmation", "sent", None),
        ("reminder", "cancelled", "appointment_cancelled"),
        ("cancellation", "pending", None),  # the patient was told of the visit: now of this
    }
    assert (await _link(session, visit.id)).used_for == "cancel"
    [audited] = await _audit(session, visit.id, "cancel")
    assert audited.actor_id is None
    assert (await post(client, visit.url, "cancel")).status_code == 410


@pytest.mark.parametrize(("window_minutes", "late"), [(None, True), (60, False)])
async def test_a_cancel_is_late_by_the_locations_rule(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    settings: Settings,
    window_minutes: int | None,
    late: bool,
) -> None:
    """Two hours ahead: late under the default 24 h window, not under a one-hour one."""
    if window_minutes is not None:
        session.add(MessageSettings(location_id=clinic.location.id, late_cancel_minutes=60))
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    start = datetime.now(UTC) + timedelta(hours=2)
    await session.execute(
        update(Appointment)
        .where(Appointment.id == uuid.UUID(made["id"]))
        .values(
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            held_from=start,
            held_until=start + timedelta(minutes=30),
        )
    )
    token = await make_link(session, settings, made["id"])

    assert (await post(client, f"/a/{token}", "cancel")).status_code == 200

    assert (await fresh(session, made["id"])).late_cancel is late


async def test_an_unknown_token_is_404_and_says_nothing(
    client: httpx.AsyncClient, clinic: Clinic, visit: Visit
) -> None:
    for response in (
        await client.get("/a/not-a-real-token"),
        await client.get(f"/a/{visit.token}x"),
        await post(client, "/a/not-a-real-token", "cancel"),
        await client.get("/a/" + "x" * 5000),
    ):
        assert response.status_code == 404
        assert "This link is not valid" in response.text
        assert "Jojo" not in response.text
        assert clinic.location.name not in response.text


async def test_an_expired_link_is_410_and_says_nothing(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, settings: Settings
) -> None:
    visit = await _visit(client, clinic, session, settings)
    expired = await make_link(
        session, settings, visit.id, expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )

    for response in (
        await client.get(f"/a/{expired}"),
        await post(client, f"/a/{expired}", "cancel"),
    ):
        assert response.status_code == 410
        assert "no longer works" in response.text
        for secret in ("Jojo", visit.patient.family_name, clinic.location.name, "10:00"):
            assert secret not in response.text
    assert (await fresh(session, visit.id)).status == "booked"


async def test_a_visit_cancelled_at_the_desk_closes_its_links(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, visit: Visit
) -> None:
    cancelled = await client.post(
        f"{APPOINTMENTS}/{visit.id}/cancel", json={"reason": "clinic"}, headers=clinic.desk.headers
    )
    assert cancelled.status_code == 200

    assert (await client.get(visit.url)).status_code == 410
    assert (await post(client, visit.url, "confirm")).status_code == 410
    assert (await fresh(session, visit.id)).cancel_reason == "clinic"


async def test_a_rescheduled_visit_closes_its_links(
    client: httpx.AsyncClient, clinic: Clinic, visit: Visit
) -> None:
    moved = await client.post(
        f"{APPOINTMENTS}/{visit.id}/reschedule",
        json={"starts_at": at(clinic.monday, "11:00")},
        headers=clinic.desk.headers,
    )
    assert moved.status_code == 201, moved.text

    assert (await client.get(visit.url)).status_code == 410


@pytest.mark.parametrize("form", [{"action": "delete"}, {"action": ""}, {}])
async def test_another_action_is_422_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, visit: Visit, form: dict[str, str]
) -> None:
    response = await client.post(visit.url, data=form)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Nothing was changed" in response.text
    assert (await fresh(session, visit.id)).status == "booked"
    assert (await _link(session, visit.id)).used_at is None


async def test_names_are_escaped(
    client: httpx.AsyncClient, session: AsyncSession, visit: Visit
) -> None:
    visit.patient.preferred_name = "<b>Jo</b>"
    await session.flush()

    page = (await client.get(visit.url)).text

    assert "&lt;b&gt;Jo&lt;/b&gt;" in page
    assert "<b>Jo</b>" not in page


async def test_every_page_carries_the_protective_headers(
    client: httpx.AsyncClient, visit: Visit
) -> None:
    for response in (
        await client.get(visit.url),  # 200
        await client.post(visit.url, data={"action": "nope"}),  # 422
        await client.get("/a/unknown"),  # 404
        await post(client, visit.url, "confirm"),  # 200, done
        await client.get(visit.url),  # 410
    ):
        headers = response.headers
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-robots-tag"] == "noindex"
        policy = headers["content-security-policy"]
        for directive in ("default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'"):
            assert directive in policy
        assert "script-src" not in policy
        assert "frame-ancestors 'none'" in policy


def test_the_openapi_document_says_the_errors_are_pages(app: FastAPI) -> None:
    document = app.openapi()
    operations = document["paths"]["/a/{token}"]
    for method, statuses in (
        ("get", ("200", "404", "410")),
        ("post", ("200", "404", "410", "422")),
    ):
        for status in statuses:
            assert list(operations[method]["responses"][status]["content"]) == ["text/html"]
    body = operations["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert body["schema"]["properties"]["action"]["enum"] == ["confirm", "cancel"]
