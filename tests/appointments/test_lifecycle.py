"""Every transition, every invalid one, late cancellation, no-show timing and reschedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked

STEPS = ["confirm", "check-in", "start", "complete"]
# What each action may start from (everything else is 409).
SOURCES = {
    "confirm": {"booked"},
    "check-in": {"booked", "confirmed"},
    "start": {"checked_in"},
    "complete": {"in_progress"},
    "no-show": {"booked", "confirmed"},
    "cancel": {"booked", "confirmed", "checked_in"},
}
PATHS = {  # how to reach each status from booked
    "booked": [],
    "confirmed": ["confirm"],
    "checked_in": ["check-in"],
    "in_progress": ["check-in", "start"],
    "completed": ["check-in", "start", "complete"],
    "cancelled": ["cancel"],
}


async def act(
    client: httpx.AsyncClient, clinic: Clinic, appointment_id: str, action: str
) -> httpx.Response:
    body = {"reason": "clinic"} if action == "cancel" else None
    return await client.post(
        f"{APPOINTMENTS}/{appointment_id}/{action}", json=body, headers=clinic.desk.headers
    )


async def test_the_happy_path_records_who_and_when(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    for step, status in zip(
        STEPS, ["confirmed", "checked_in", "in_progress", "completed"], strict=True
    ):
        response = await act(client, clinic, answer["id"], step)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    detail = (
        await client.get(f"{APPOINTMENTS}/{answer['id']}", headers=clinic.desk.headers)
    ).json()
    assert [h["to_status"] for h in detail["history"]] == [
        "booked",
        "confirmed",
        "checked_in",
        "in_progress",
        "completed",
    ]
    assert all(h["actor_id"] == str(clinic.desk.user.id) for h in detail["history"])


@pytest.mark.parametrize("status", list(PATHS))
async def test_every_invalid_transition_is_409(
    client: httpx.AsyncClient, clinic: Clinic, status: str
) -> None:
    n = list(PATHS).index(status)
    answer = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, f"{9 + n}:00"), patient_id=str(clinic.patients[n % 4].id)),
    )
    for step in PATHS[status]:
        assert (await act(client, clinic, answer["id"], step)).status_code == 200
    for action, sources in SOURCES.items():
        if status in sources:
            continue
        response = await act(client, clinic, answer["id"], action)
        assert response.status_code == 409, (status, action)
        assert response.json()["current_status"] == status
        assert "Cannot" in response.json()["detail"]


async def _make_past(session: AsyncSession, appointment_id: str, hours: int = 1) -> None:
    """Move a booked appointment into the past (a booking cannot be made there)."""
    start = datetime.now(UTC) - timedelta(hours=hours)
    await session.execute(
        update(Appointment)
        .where(Appointment.id == uuid.UUID(appointment_id))
        .values(
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            held_from=start,
            held_until=start + timedelta(minutes=30),
        )
    )
    await session.flush()


async def test_no_show_only_after_the_start_and_it_frees_the_time(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    early = await act(client, clinic, answer["id"], "no-show")
    assert early.status_code == 409
    assert "after the start" in early.json()["detail"]
    await _make_past(session, answer["id"])
    response = await act(client, clinic, answer["id"], "no-show")
    assert response.status_code == 200
    assert response.json()["status"] == "no_show"
    held = await session.scalar(
        text(
            "SELECT count(*) FROM appointments WHERE id = :id AND status NOT IN"
            " ('cancelled', 'no_show', 'rescheduled')"
        ),
        {"id": answer["id"]},
    )
    assert held == 0


async def _soon(client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession) -> dict[str, Any]:
    """An appointment starting in two hours: inside the default 24 h late-cancel window."""
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    start = datetime.now(UTC) + timedelta(hours=2)
    await session.execute(
        update(Appointment)
        .where(Appointment.id == uuid.UUID(answer["id"]))
        .values(
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            held_from=start,
            held_until=start + timedelta(minutes=30),
        )
    )
    await session.flush()
    return answer


@pytest.mark.parametrize(
    ("reason", "late"), [("patient", True), ("illness", False), ("clinic", False)]
)
async def test_late_cancel_is_charged_only_to_the_patients_own_reason(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, reason: str, late: bool
) -> None:
    answer = await _soon(client, clinic, session)
    response = await client.post(
        f"{APPOINTMENTS}/{answer['id']}/cancel",
        json={"reason": reason, "note": "flare since Sunday"},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200
    assert response.json()["late_cancel"] is late
    assert response.json()["cancel_reason"] == reason


async def test_early_patient_cancel_is_not_late(client: httpx.AsyncClient, clinic: Clinic) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    response = await client.post(
        f"{APPOINTMENTS}/{answer['id']}/cancel",
        json={"reason": "patient"},
        headers=clinic.desk.headers,
    )
    assert response.json()["late_cancel"] is False


async def test_the_database_never_charges_a_flare_as_late(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    with pytest.raises(Exception, match="late_only_for_patient"):
        async with session.begin_nested():
            await session.execute(
                update(Appointment)
                .where(Appointment.id == uuid.UUID(answer["id"]))
                .values(status="cancelled", cancel_reason="illness", late_cancel=True)
            )


async def test_reschedule_links_old_and_new_and_frees_the_old_time(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    old = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    # Moving 15 minutes later overlaps the old time: allowed, the old one no longer holds it.
    response = await client.post(
        f"{APPOINTMENTS}/{old['id']}/reschedule",
        json={"starts_at": at(clinic.monday, "09:15"), "practitioner_id": str(clinic.dr_b.id)},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["rescheduled_from_id"] == old["id"]
    assert new["practitioner_id"] == str(clinic.dr_b.id)
    assert new["starts_at"] == at(clinic.monday, "09:15")
    previous = (await client.get(f"{APPOINTMENTS}/{old['id']}", headers=clinic.desk.headers)).json()
    assert previous["status"] == "rescheduled"
    assert previous["rescheduled_to_id"] == new["id"]
    again = await client.post(
        f"{APPOINTMENTS}/{old['id']}/reschedule",
        json={"starts_at": at(clinic.monday, "11:00")},
        headers=clinic.desk.headers,
    )
    assert again.status_code == 409


async def test_a_refused_reschedule_leaves_the_original_untouched(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    mine = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    await client.post(f"{APPOINTMENTS}/{mine['id']}/confirm", headers=clinic.desk.headers)
    theirs = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "10:00"), patient_id=str(clinic.patients[1].id)),
    )
    before = (await session.execute(select(Appointment.__table__).order_by(Appointment.id))).all()
    response = await client.post(
        f"{APPOINTMENTS}/{mine['id']}/reschedule",
        json={"starts_at": at(clinic.monday, "10:00")},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 409
    assert response.json()["clashing_appointment_id"] == theirs["id"]
    after = (await session.execute(select(Appointment.__table__).order_by(Appointment.id))).all()
    assert after == before
    current = (await client.get(f"{APPOINTMENTS}/{mine['id']}", headers=clinic.desk.headers)).json()
    assert current["status"] == "confirmed"
    assert [h["to_status"] for h in current["history"]] == ["booked", "confirmed"]


async def test_list_filters_and_pages(client: httpx.AsyncClient, clinic: Clinic) -> None:
    ids = []
    for n, hour in enumerate(["09:00", "10:00", "11:00"]):
        ids.append(
            (
                await booked(
                    client,
                    clinic.desk,
                    clinic.body(at(clinic.monday, hour), patient_id=str(clinic.patients[n].id)),
                )
            )["id"]
        )
    await client.post(
        f"{APPOINTMENTS}/{ids[1]}/cancel", json={"reason": "clinic"}, headers=clinic.desk.headers
    )
    params: dict[str, Any] = {
        "practitioner_id": str(clinic.dr_a.id),
        "from": at(clinic.monday, "00:00"),
        "to": at(clinic.monday, "23:00"),
    }
    listed = (await client.get(APPOINTMENTS, params=params, headers=clinic.desk.headers)).json()
    assert [a["id"] for a in listed["items"]] == ids
    booked_only = (
        await client.get(
            APPOINTMENTS, params={**params, "status": ["booked"]}, headers=clinic.desk.headers
        )
    ).json()
    assert [a["id"] for a in booked_only["items"]] == [ids[0], ids[2]]
    page = (
        await client.get(APPOINTMENTS, params={**params, "limit": 2}, headers=clinic.desk.headers)
    ).json()
    assert page["has_more"] is True and len(page["items"]) == 2
    mine = (
        await client.get(
            APPOINTMENTS,
            params={"patient_id": str(clinic.patients[2].id)},
            headers=clinic.desk.headers,
        )
    ).json()
    assert [a["id"] for a in mine["items"]] == [ids[2]]
