"""Booking: what is allowed, what the database refuses, and how the refusal reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.audit.models import AuditEvent
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, book, booked


async def test_booking_answers_local_times_and_picks_a_room(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    assert answer["status"] == "booked"
    assert answer["starts_at"] == at(clinic.monday, "09:00")
    assert answer["ends_at"] == at(clinic.monday, "09:30")
    assert answer["room_id"] == str(clinic.rooms[0].id)
    assert answer["location_id"] == str(clinic.location.id)


async def test_back_to_back_is_fine_and_overlap_is_409_naming_the_clash(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    first = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    other = str(clinic.patients[1].id)
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:30"), patient_id=other))
    response = await book(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "09:15"), patient_id=str(clinic.patients[2].id)),
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["conflict"] == "practitioner"
    assert "constraint" not in problem
    assert problem["clashing_appointment_id"] == first["id"]
    assert "09:00-09:30" in problem["detail"]


async def test_patient_cannot_be_in_two_places(client: httpx.AsyncClient, clinic: Clinic) -> None:
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    response = await book(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "10:15"), practitioner_id=str(clinic.dr_b.id)),
    )
    assert response.status_code == 409
    assert response.json()["conflict"] == "patient"


async def test_a_named_room_cannot_be_double_booked_and_auto_choice_avoids_it(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    room = str(clinic.rooms[0].id)
    held = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "11:00"), room_id=room))
    clash = await book(
        client,
        clinic.desk,
        clinic.body(
            at(clinic.monday, "11:00"),
            room_id=room,
            practitioner_id=str(clinic.dr_b.id),
            patient_id=str(clinic.patients[1].id),
        ),
    )
    assert clash.status_code == 409
    assert clash.json()["conflict"] == "room"
    assert "ex_appointments" not in clash.text
    chosen = await booked(
        client,
        clinic.desk,
        clinic.body(
            at(clinic.monday, "11:00"),
            practitioner_id=str(clinic.dr_b.id),
            patient_id=str(clinic.patients[1].id),
        ),
    )
    assert chosen["room_id"] == str(clinic.rooms[1].id)
    # Both adjustment rooms are taken at 11:00 now.
    full = await book(
        client,
        clinic.admin,
        clinic.body(
            at(clinic.monday, "11:10"),
            patient_id=str(clinic.patients[2].id),
            allow_overlap=True,
        ),
    )
    assert full.status_code == 409
    problem = full.json()
    assert "No adjustment room is free" in problem["detail"]
    # Each room, in the order rooms are chosen, names the first appointment in its way;
    # the earliest of those (the first room's, on a tie) is the clash.
    assert problem["conflict"] == "room"
    assert problem["rooms"] == [
        {"room_id": room, "clashing_appointment_id": held["id"]},
        {"room_id": str(clinic.rooms[1].id), "clashing_appointment_id": chosen["id"]},
    ]
    assert problem["clashing_appointment_id"] == held["id"]


async def test_buffers_hold_the_practitioner(client: httpx.AsyncClient, clinic: Clinic) -> None:
    # The exam is 60 min plus 10 min after: 09:00-10:00 holds Dr. A until 10:10.
    await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "09:00"), appointment_type_id=str(clinic.exam.id)),
    )
    other = str(clinic.patients[1].id)
    too_soon = await book(
        client, clinic.desk, clinic.body(at(clinic.monday, "10:00"), patient_id=other)
    )
    assert too_soon.status_code == 409
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:10"), patient_id=other))


async def test_cancelled_time_can_be_booked_again(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    first = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "13:00")))
    cancelled = await client.post(
        f"{APPOINTMENTS}/{first['id']}/cancel",
        json={"reason": "patient"},
        headers=clinic.desk.headers,
    )
    assert cancelled.status_code == 200
    again = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "13:00"), patient_id=str(clinic.patients[1].id)),
    )
    assert again["room_id"] == str(clinic.rooms[0].id)


async def test_overlap_override_is_for_chiropractors_and_audited(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "14:00")))
    second = clinic.body(
        at(clinic.monday, "14:00"), patient_id=str(clinic.patients[1].id), allow_overlap=True
    )
    refused = await book(client, clinic.desk, second)
    assert refused.status_code == 403
    answer = await booked(client, clinic.chiro, second)
    assert answer["allow_overlap"] is True
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.resource_id == answer["id"], AuditEvent.action == "create"
        )
    )
    assert event is not None and event.detail["allow_overlap"] is True
    assert event.actor_id == clinic.chiro.user.id
    # The override skips only the practitioner rule: the patient still cannot be doubled.
    doubled = await book(
        client,
        clinic.chiro,
        clinic.body(
            at(clinic.monday, "14:00"),
            allow_overlap=True,
            appointment_type_id=str(clinic.exam.id),  # needs no room: both are taken
        ),
    )
    assert doubled.status_code == 409
    assert doubled.json()["conflict"] == "patient"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("starts_at", "07:30", "does not work"),
        ("starts_at", "16:45", "does not work"),
        ("location_id", None, "does not work at"),
        ("room_id", None, "No room with this id"),
    ],
)
async def test_rules_the_schema_cannot_hold_are_422_with_a_field(
    client: httpx.AsyncClient, clinic: Clinic, field: str, value: str | None, expected: str
) -> None:
    body = clinic.body(at(clinic.monday, "09:00"))
    if field == "starts_at":
        body["starts_at"] = at(clinic.monday, value or "")
    elif field == "location_id":
        other = await client.post(
            "/api/v1/locations",
            json={"name": f"Elsewhere {uuid.uuid4().hex[:6]}", "time_zone": "America/Chicago"},
            headers=clinic.admin.headers,
        )
        body["location_id"] = other.json()["id"]
    else:
        body["room_id"] = str(uuid.uuid4())
    response = await book(client, clinic.desk, body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert expected in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", field]


async def test_past_times_and_unknown_ids(client: httpx.AsyncClient, clinic: Clinic) -> None:
    past = clinic.monday - timedelta(days=28)
    response = await book(client, clinic.desk, clinic.body(at(past, "09:00")))
    assert response.status_code == 422
    assert "past" in response.json()["detail"]
    unknown = await book(
        client, clinic.desk, clinic.body(at(clinic.monday, "09:00"), patient_id=str(uuid.uuid4()))
    )
    assert unknown.status_code == 404


async def test_booking_is_audited_and_history_kept(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "15:00")))
    detail = await client.get(f"{APPOINTMENTS}/{answer['id']}", headers=clinic.desk.headers)
    assert detail.status_code == 200
    history = detail.json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [(None, "booked")]
    assert history[0]["actor_id"] == str(clinic.desk.user.id)
    actions = (
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == answer["id"])
        )
    ).all()
    assert sorted(actions) == ["create", "read"]


async def test_the_database_refuses_overlaps_written_past_the_api(
    session: AsyncSession, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    answer = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "09:00")))
    row = await session.get(Appointment, uuid.UUID(answer["id"]))
    assert row is not None
    with pytest.raises(Exception, match="ex_appointments_practitioner"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO appointments (patient_id, practitioner_id, location_id,"
                    " appointment_type_id, starts_at, ends_at, held_from, held_until)"
                    " SELECT :patient, practitioner_id, location_id, appointment_type_id,"
                    " starts_at + interval '10 minutes', ends_at, held_from, held_until"
                    " FROM appointments WHERE id = :id"
                ),
                {"patient": clinic.patients[3].id, "id": row.id},
            )
