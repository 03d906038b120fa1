"""A location's closed days: kept by the admin, seen by availability, bookings, care-plan
series and the day sheet."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.audit.models import AuditEvent
from tests.appointments.conftest import Clinic, at, book, booked
from tests.appointments.test_availability import local_times, one_day, slots
from tests.appointments.test_series import SERIES, plan


def _url(clinic: Clinic) -> str:
    return f"/api/v1/locations/{clinic.location.id}/closures"


async def close(
    client: httpx.AsyncClient, clinic: Clinic, first: date, last: date | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "start_date": first.isoformat(),
        "end_date": (last or first).isoformat(),
        "reason": "Holiday",
        **extra,
    }
    return await client.post(_url(clinic), json=body, headers=clinic.admin.headers)


async def test_the_admin_keeps_closures_and_staff_read_them(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    christmas = clinic.monday + timedelta(days=3)
    created = await close(client, clinic, christmas, reason="Christmas Day")
    assert created.status_code == 201, created.text
    assert created.json()["start_date"] == christmas.isoformat()
    window = {"from": clinic.monday.isoformat(), "to": (clinic.monday + timedelta(6)).isoformat()}
    listed = await client.get(_url(clinic), params=window, headers=clinic.desk.headers)
    assert [c["reason"] for c in listed.json()["items"]] == ["Christmas Day"]
    later = {"from": (christmas + timedelta(days=1)).isoformat()}
    assert (await client.get(_url(clinic), params=later, headers=clinic.desk.headers)).json()[
        "items"
    ] == []
    audited = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.resource_type == "location_closure")
    )
    assert audited == 1
    url = f"/api/v1/closures/{created.json()['id']}"
    assert (await client.delete(url, headers=clinic.admin.headers)).status_code == 204
    assert (await client.delete(url, headers=clinic.admin.headers)).status_code == 404


async def test_overlapping_closures_are_409_naming_the_one_in_the_way(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    week = await close(client, clinic, clinic.monday, clinic.monday + timedelta(days=4))
    assert week.status_code == 201
    friday = clinic.monday + timedelta(days=4)
    clash = await close(client, clinic, friday, friday + timedelta(days=3))
    assert clash.status_code == 409
    problem = clash.json()
    assert problem["conflict"] == "closure"
    assert problem["clashing_closure_id"] == week.json()["id"]
    assert "ex_location_closures" not in clash.text
    # The day after is free to close.
    assert (await close(client, clinic, friday + timedelta(days=1))).status_code == 201


async def test_bad_closures_are_422_with_the_field(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    backwards = await close(client, clinic, clinic.monday, clinic.monday - timedelta(days=1))
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["loc"] == ["body", "end_date"]
    too_long = await close(client, clinic, clinic.monday, clinic.monday + timedelta(days=400))
    assert too_long.status_code == 422
    no_reason = await close(client, clinic, clinic.monday, reason="")
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    unknown = await client.post(
        "/api/v1/locations/00000000-0000-0000-0000-000000000000/closures",
        json={"start_date": "2027-01-01", "end_date": "2027-01-01", "reason": "New Year"},
        headers=clinic.admin.headers,
    )
    assert unknown.status_code == 404


async def test_a_closed_day_has_no_availability_and_refuses_bookings(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    tuesday = clinic.monday + timedelta(days=1)
    assert local_times(await slots(client, clinic, **one_day(clinic, tuesday)))
    assert (await close(client, clinic, tuesday, reason="Staff training")).status_code == 201
    assert await slots(client, clinic, **one_day(clinic, tuesday)) == []
    # The days either side are untouched.
    assert await slots(client, clinic, **one_day(clinic, clinic.monday))
    assert await slots(client, clinic, **one_day(clinic, tuesday + timedelta(days=1)))
    refused = await book(client, clinic.desk, clinic.body(at(tuesday, "10:00")))
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["loc"] == ["body", "starts_at"]
    assert error["type"] == "closed"
    assert "Staff training" in refused.json()["detail"]


async def test_a_care_plan_skips_closed_days_even_all_or_nothing(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    # A Mon/Wed/Fri plan over a closed week-two Wednesday and Friday books the other ten.
    wednesday = clinic.monday + timedelta(days=9)
    assert (
        await close(client, clinic, wednesday, wednesday + timedelta(days=2))
    ).status_code == 201
    response = await client.post(
        SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["booked"] == 10
    closed = [o for o in report["occurrences"] if o["outcome"] == "closed"]
    assert [o["date"] for o in closed] == [
        wednesday.isoformat(),
        (wednesday + timedelta(days=2)).isoformat(),
    ]
    assert all("Holiday" in o["problem"] for o in closed)
    on_closed_days = await session.scalar(
        select(func.count()).where(
            Appointment.series_id == report["id"],
            func.date(func.timezone("America/Chicago", Appointment.starts_at)).in_(
                [wednesday, wednesday + timedelta(days=2)]
            ),
        )
    )
    assert on_closed_days == 0


async def test_a_clash_still_refuses_an_all_or_nothing_plan_with_a_closed_day(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    assert (await close(client, clinic, clinic.monday)).status_code == 201
    wednesday = clinic.monday + timedelta(days=9)
    await booked(
        client,
        clinic.desk,
        clinic.body(at(wednesday, "09:00"), patient_id=str(clinic.patients[1].id)),
    )
    response = await client.post(
        SERIES, json=plan(clinic, "all_or_nothing"), headers=clinic.desk.headers
    )
    assert response.status_code == 409
    # Twelve dates, one closed: one of the eleven wanted cannot be booked.
    assert "1 of 11" in response.json()["detail"]


async def test_the_day_sheet_says_the_location_is_closed(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    thursday = clinic.monday + timedelta(days=3)
    # Booked before the closure was added: it stays, and the sheet shows both.
    visit = await booked(client, clinic.desk, clinic.body(at(thursday, "09:00")))
    assert (await close(client, clinic, thursday, reason="Thanksgiving")).status_code == 201
    params = {"date": thursday.isoformat(), "location_id": str(clinic.location.id)}
    sheet = (
        await client.get("/api/v1/schedule", params=params, headers=clinic.desk.headers)
    ).json()
    assert sheet["closed"] == "Thanksgiving"
    shown = [a["appointment_id"] for p in sheet["practitioners"] for a in p["appointments"]]
    assert shown == [visit["id"]]
    params["date"] = clinic.monday.isoformat()
    open_day = await client.get("/api/v1/schedule", params=params, headers=clinic.desk.headers)
    assert open_day.json()["closed"] is None
