"""Care-plan series: all-or-nothing vs book-what-fits, and "this and following"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from tests.appointments.conftest import Clinic, at, booked

SERIES = "/api/v1/appointment-series"


def plan(clinic: Clinic, mode: str, **overrides: Any) -> dict[str, Any]:
    return {
        "patient_id": str(clinic.patients[0].id),
        "practitioner_id": str(clinic.dr_a.id),
        "appointment_type_id": str(clinic.adjustment.id),
        "start_date": clinic.monday.isoformat(),
        "weeks": 4,
        "weekdays": [0, 2, 4],
        "time": "09:00",
        "mode": mode,
        **overrides,
    }


async def _count(session: AsyncSession, clinic: Clinic) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(Appointment.practitioner_id == clinic.dr_a.id)
        )
        or 0
    )


async def _wednesday_taken(
    client: httpx.AsyncClient, clinic: Clinic, hhmm: str = "09:00"
) -> dict[str, Any]:
    """Another patient with Dr. A on the second week's Wednesday."""
    wednesday = clinic.monday + timedelta(days=9)
    return await booked(
        client,
        clinic.desk,
        clinic.body(at(wednesday, hhmm), patient_id=str(clinic.patients[1].id)),
    )


async def test_a_free_plan_books_twelve_visits_in_local_time(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    response = await client.post(
        SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["booked"] == 12
    assert all(o["outcome"] == "booked" for o in report["occurrences"])
    assert {o["starts_at"][11:16] for o in report["occurrences"]} == {"09:00"}
    listed = await client.get(
        "/api/v1/appointments",
        params={"patient_id": str(clinic.patients[0].id)},
        headers=clinic.desk.headers,
    )
    assert {a["series_id"] for a in listed.json()["items"]} == {report["id"]}


async def test_all_or_nothing_books_nothing_and_reports_the_clash(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    taken = await _wednesday_taken(client, clinic)
    before = await _count(session, clinic)
    response = await client.post(
        SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers
    )
    assert response.status_code == 409
    problem = response.json()
    assert "1 of 12" in problem["detail"]
    failed = [o for o in problem["occurrences"] if o["outcome"] != "booked"]
    assert len(failed) == 1
    assert failed[0]["clashing_appointment_id"] == taken["id"]
    assert failed[0]["nearest_free"][11:16] in ("08:30", "09:30")
    assert await _count(session, clinic) == before


async def test_book_what_fits_books_the_rest(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    await _wednesday_taken(client, clinic)
    response = await client.post(
        SERIES, json=plan(clinic, "book_what_fits"), headers=clinic.desk.headers
    )
    assert response.status_code == 201
    report = response.json()
    assert report["booked"] == 11
    outcomes = [o["outcome"] for o in report["occurrences"]]
    assert outcomes.count("conflict") == 1


async def test_outside_hours_is_reported_as_unavailable(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    # Saturdays: Dr. A does not work; Mondays fit.
    response = await client.post(
        SERIES,
        json=plan(clinic, "book_what_fits", weekdays=[0, 5], weeks=1),
        headers=clinic.desk.headers,
    )
    assert response.status_code == 201
    saturday = [o for o in response.json()["occurrences"] if o["outcome"] != "booked"]
    assert saturday[0]["outcome"] == "unavailable"
    assert saturday[0]["nearest_free"] is None


async def test_cancel_and_move_this_and_following(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    report = (
        await client.post(SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers)
    ).json()
    ids = [o["appointment_id"] for o in report["occurrences"]]
    moved = await client.post(
        f"{SERIES}/{report['id']}/move",
        json={"from_appointment_id": ids[6], "time": "10:30"},
        headers=clinic.desk.headers,
    )
    assert moved.status_code == 200, moved.text
    moved_ids = [o["appointment_id"] for o in moved.json()["occurrences"]]
    assert len(moved_ids) == 6
    assert {o["starts_at"][11:16] for o in moved.json()["occurrences"]} == {"10:30"}
    cancelled = await client.post(
        f"{SERIES}/{report['id']}/cancel",
        json={"from_appointment_id": moved_ids[3], "reason": "illness"},
        headers=clinic.desk.headers,
    )
    assert cancelled.status_code == 200
    assert [a["status"] for a in cancelled.json()] == ["cancelled"] * 3
    assert all(a["late_cancel"] is False for a in cancelled.json())
    first = await client.get(f"/api/v1/appointments/{ids[0]}", headers=clinic.desk.headers)
    assert first.json()["status"] == "booked"


async def test_a_move_that_does_not_fully_fit_changes_nothing(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    report = (
        await client.post(SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers)
    ).json()
    await _wednesday_taken(client, clinic, "11:00")
    before = await _count(session, clinic)
    ids = [o["appointment_id"] for o in report["occurrences"]]
    moved = await client.post(
        f"{SERIES}/{report['id']}/move",
        json={"from_appointment_id": ids[0], "time": "11:00"},
        headers=clinic.desk.headers,
    )
    assert moved.status_code == 409
    assert await _count(session, clinic) == before
    first = await client.get(f"/api/v1/appointments/{ids[0]}", headers=clinic.desk.headers)
    assert first.json()["status"] == "booked"
