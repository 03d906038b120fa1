"""The day sheet: per practitioner, local times, names, new-patient flag, constant queries."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core.audit.models import AuditEvent
from tests.appointments.conftest import APPOINTMENTS, Clinic, at, booked

SCHEDULE = "/api/v1/schedule"


async def sheet(client: httpx.AsyncClient, clinic: Clinic) -> dict[str, Any]:
    response = await client.get(
        SCHEDULE,
        params={"date": clinic.monday.isoformat(), "location_id": str(clinic.location.id)},
        headers=clinic.desk.headers,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_the_day_per_practitioner(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    exam = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "09:00"), appointment_type_id=str(clinic.exam.id)),
    )
    second = await booked(
        client,
        clinic.desk,
        clinic.body(
            at(clinic.monday, "10:30"),
            patient_id=str(clinic.patients[1].id),
            practitioner_id=str(clinic.dr_b.id),
        ),
    )
    cancelled = await booked(
        client,
        clinic.desk,
        clinic.body(at(clinic.monday, "11:00"), patient_id=str(clinic.patients[2].id)),
    )
    await client.post(
        f"{APPOINTMENTS}/{cancelled['id']}/cancel",
        json={"reason": "patient"},
        headers=clinic.desk.headers,
    )
    # Next day's visit is not on this sheet.
    await booked(client, clinic.desk, clinic.body(at(clinic.monday + timedelta(days=1), "09:00")))
    day = await sheet(client, clinic)
    assert day["time_zone"] == "America/Chicago"
    columns = {c["practitioner"]: c["appointments"] for c in day["practitioners"]}
    assert list(columns) == ["Dr. Ada Atlas", "Dr. Ben Axis"]
    ada = columns["Dr. Ada Atlas"]
    assert [a["appointment_id"] for a in ada] == [exam["id"], cancelled["id"]]
    assert ada[0]["starts_at"] == at(clinic.monday, "09:00")
    assert ada[0]["patient_name"] == f"Jordan {clinic.patients[0].family_name}"
    assert ada[0]["new_patient"] is True
    assert ada[0]["room"] is None
    assert ada[1]["status"] == "cancelled"
    ben = columns["Dr. Ben Axis"]
    assert ben[0]["appointment_id"] == second["id"]
    assert ben[0]["room"] == "Adjust 1"
    audited = (
        await session.scalars(
            select(AuditEvent.resource_id).where(AuditEvent.action == "day_sheet")
        )
    ).all()
    assert set(audited) == {exam["id"], second["id"], cancelled["id"]}


async def test_a_returning_patient_is_not_new(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    from sqlalchemy import text

    past = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "08:00")))
    # Pretend the earlier visit happened and was completed (it is on the same morning).
    await session.execute(
        text("UPDATE appointments SET status = 'completed' WHERE id = :id"), {"id": past["id"]}
    )
    await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    day = await sheet(client, clinic)
    ada = next(c for c in day["practitioners"] if c["practitioner"] == "Dr. Ada Atlas")
    assert [a["new_patient"] for a in ada["appointments"]] == [True, False]


async def _statements(client: httpx.AsyncClient, clinic: Clinic, engine: AsyncEngine) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await sheet(client, clinic)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return len(statements)


async def test_the_number_of_queries_does_not_grow_with_the_day(
    client: httpx.AsyncClient, clinic: Clinic, engine: AsyncEngine
) -> None:
    async def book_visit(n: int) -> None:
        start = (datetime.combine(clinic.monday, time(8)) + timedelta(minutes=30 * n)).time()
        await booked(
            client,
            clinic.desk,
            clinic.body(
                at(clinic.monday, start.strftime("%H:%M")),
                practitioner_id=str((clinic.dr_a, clinic.dr_b)[n % 2].id),
                patient_id=str(clinic.patients[n % 4].id),
            ),
        )

    await book_visit(0)
    one = await _statements(client, clinic, engine)
    for n in range(1, 12):
        await book_visit(n)
    twelve = await _statements(client, clinic, engine)
    assert one == twelve
