"""Completing a visit plans its check-ins in the same transaction, by the policy of its
appointment type at its location; a care plan's weekly check-in is planned once a week."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment, AppointmentSeries
from services.checkins.models import Checkin, CheckinPolicy
from services.checkins.schedule import next_weekly
from services.messaging.models import Message
from tests.appointments.conftest import Clinic, at, booked
from tests.checkins.support import complete

CHICAGO = ZoneInfo("America/Chicago")


async def _checkins(session: AsyncSession, patient_id: object) -> list[Checkin]:
    rows = await session.scalars(
        select(Checkin).where(Checkin.patient_id == patient_id).order_by(Checkin.due_at)
    )
    return list(rows)


async def _invitation(session: AsyncSession, checkin: Checkin) -> Message:
    return (await session.scalars(select(Message).where(Message.checkin_id == checkin.id))).one()


async def test_completing_an_adjustment_plans_a_checkin_a_day_later_with_its_invitation(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    await complete(client, clinic, made["id"])

    [checkin] = await _checkins(session, clinic.patients[0].id)
    assert (checkin.kind, checkin.status, checkin.series_id) == ("after_visit", "scheduled", None)
    assert str(checkin.appointment_id) == made["id"]
    assert (checkin.questionnaire_key, checkin.questionnaire_version) == ("post_visit", 1)
    ends = datetime.fromisoformat(made["ends_at"])
    assert checkin.due_at == ends + timedelta(hours=24)  # the visit is still ahead of the clock
    invitation = await _invitation(session, checkin)
    assert (invitation.kind, invitation.status, invitation.send_at) == (
        "checkin",
        "pending",
        checkin.due_at,
    )
    # Completing twice is refused and plans nothing more.
    again = await client.post(
        f"/api/v1/appointments/{made['id']}/complete", headers=clinic.chiro.headers
    )
    assert again.status_code == 409
    assert len(await _checkins(session, clinic.patients[0].id)) == 1


async def test_every_type_plans_a_checkin_by_default_until_a_policy_says_none(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    """The first exam usually includes the first correction: a check-in the next day."""
    exam = clinic.body(at(clinic.monday, "10:00"), appointment_type_id=str(clinic.exam.id))
    await complete(client, clinic, (await booked(client, clinic.desk, exam))["id"])
    assert len(await _checkins(session, clinic.patients[0].id)) == 1

    session.add(
        CheckinPolicy(
            appointment_type_id=clinic.exam.id, after_visit_hours=None, weekly_in_series=False
        )
    )
    await session.flush()
    again = clinic.body(at(clinic.monday, "14:00"), appointment_type_id=str(clinic.exam.id))
    await complete(client, clinic, (await booked(client, clinic.desk, again))["id"])
    assert len(await _checkins(session, clinic.patients[0].id)) == 1


async def test_a_checkin_due_in_quiet_hours_is_invited_when_they_end(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    session.add(
        CheckinPolicy(
            appointment_type_id=clinic.adjustment.id, after_visit_hours=14, weekly_in_series=False
        )
    )
    await session.flush()
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    await complete(client, clinic, made["id"])
    [checkin] = await _checkins(session, clinic.patients[0].id)
    # 10:30 + 14 h = 00:30, inside the default quiet hours 21:00-08:00 (the patient's zone).
    patient_zone = ZoneInfo(clinic.patients[0].time_zone)
    invitation = await _invitation(session, checkin)
    assert invitation.send_at > checkin.due_at
    assert invitation.send_at.astimezone(patient_zone).time() == time(8, 0)


@pytest.mark.parametrize(
    ("type_wide", "at_location", "expected"),
    [
        (None, None, 24),
        (48, None, 48),
        (48, 6, 6),
        (None, "off", None),
    ],
)
async def test_the_location_policy_wins_over_the_type_policy_over_the_default(
    client: httpx.AsyncClient,
    clinic: Clinic,
    session: AsyncSession,
    type_wide: int | None,
    at_location: int | str | None,
    expected: int | None,
) -> None:
    if type_wide is not None:
        session.add(
            CheckinPolicy(
                appointment_type_id=clinic.adjustment.id,
                after_visit_hours=type_wide,
                weekly_in_series=True,
            )
        )
    if at_location is not None:
        session.add(
            CheckinPolicy(
                appointment_type_id=clinic.adjustment.id,
                location_id=clinic.location.id,
                after_visit_hours=None if at_location == "off" else at_location,
                weekly_in_series=True,
            )
        )
    await session.flush()
    made = await booked(client, clinic.desk, clinic.body(at(clinic.monday, "10:00")))
    await complete(client, clinic, made["id"])
    planned = await _checkins(session, clinic.patients[0].id)
    if expected is None:
        assert planned == []
        return
    ends = datetime.fromisoformat(made["ends_at"])
    assert [c.due_at - ends for c in planned] == [timedelta(hours=expected)]


async def _care_plan(client: httpx.AsyncClient, clinic: Clinic) -> dict[str, object]:
    answer = await client.post(
        "/api/v1/appointment-series",
        json={
            "patient_id": str(clinic.patients[0].id),
            "practitioner_id": str(clinic.dr_a.id),
            "appointment_type_id": str(clinic.adjustment.id),
            "start_date": clinic.monday.isoformat(),
            "weekdays": [0, 2, 4],
            "time": "09:00",
            "weeks": 3,
            "mode": "all_or_nothing",
        },
        headers=clinic.desk.headers,
    )
    assert answer.status_code == 201, answer.text
    plan: dict[str, object] = answer.json()
    return plan


async def test_a_care_plan_gets_one_weekly_checkin_however_many_visits_complete(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession
) -> None:
    plan = await _care_plan(client, clinic)
    occurrences = plan["occurrences"]
    assert isinstance(occurrences, list)
    monday, wednesday = (o["appointment_id"] for o in occurrences[:2])
    await complete(client, clinic, monday)
    await complete(client, clinic, wednesday)

    planned = await _checkins(session, clinic.patients[0].id)
    weekly = [c for c in planned if c.kind == "weekly"]
    assert len([c for c in planned if c.kind == "after_visit"]) == 2
    assert len(weekly) == 1 and str(weekly[0].series_id) == plan["id"]
    patient_zone = ZoneInfo(clinic.patients[0].time_zone)
    local_due = weekly[0].due_at.astimezone(patient_zone)
    assert (local_due.date(), local_due.time()) == (clinic.monday + timedelta(weeks=1), time(18))
    assert str(weekly[0].appointment_id) == monday  # the visit that planned it


@pytest.mark.parametrize("how", ["series", "one_by_one", "no_show"])
async def test_a_care_plan_with_no_visit_left_cancels_its_weekly_checkin(
    client: httpx.AsyncClient, clinic: Clinic, session: AsyncSession, how: str
) -> None:
    plan = await _care_plan(client, clinic)
    occurrences = plan["occurrences"]
    assert isinstance(occurrences, list)
    await complete(client, clinic, occurrences[0]["appointment_id"])
    rest = [o["appointment_id"] for o in occurrences[1:]]
    if how == "series":
        answer = await client.post(
            f"/api/v1/appointment-series/{plan['id']}/cancel",
            json={"from_appointment_id": rest[0], "reason": "patient"},
            headers=clinic.desk.headers,
        )
        assert answer.status_code == 200, answer.text
    else:
        for appointment_id in rest[:-1]:
            await _cancel(client, clinic, appointment_id)
        so_far = await _checkins(session, clinic.patients[0].id)
        assert {c.kind: c.status for c in so_far}["weekly"] == "scheduled"  # one visit left
        if how == "one_by_one":
            await _cancel(client, clinic, rest[-1])
        else:
            await _no_show(session, client, clinic, rest[-1])

    by_kind = {c.kind: c for c in await _checkins(session, clinic.patients[0].id)}
    for checkin in by_kind.values():
        await session.refresh(checkin)
    assert by_kind["weekly"].status == "cancelled"
    assert (await _invitation(session, by_kind["weekly"])).reason == "care_plan_ended"
    # The check-in after the visit that did happen still goes out.
    assert by_kind["after_visit"].status == "scheduled"


async def _cancel(client: httpx.AsyncClient, clinic: Clinic, appointment_id: str) -> None:
    answer = await client.post(
        f"/api/v1/appointments/{appointment_id}/cancel",
        json={"reason": "patient"},
        headers=clinic.desk.headers,
    )
    assert answer.status_code == 200, answer.text


async def _no_show(
    session: AsyncSession, client: httpx.AsyncClient, clinic: Clinic, appointment_id: str
) -> None:
    """The visit's time has passed (moved into the past here) and nobody came."""
    visit = await session.get_one(Appointment, appointment_id)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    visit.starts_at, visit.ends_at = start, start + timedelta(minutes=30)
    visit.held_from, visit.held_until = visit.starts_at, visit.ends_at
    await session.flush()
    answer = await client.post(
        f"/api/v1/appointments/{appointment_id}/no-show", headers=clinic.desk.headers
    )
    assert answer.status_code == 200, answer.text


def _series(start: date) -> AppointmentSeries:
    return AppointmentSeries(start_date=start, weeks=4, weekdays=[0, 2, 4], local_time=time(9))


@pytest.mark.parametrize(
    ("completed_local", "expected_local"),
    [
        # Monday of week 1 → Monday of week 2, 18:00.
        (datetime(2027, 3, 1, 9, 20), datetime(2027, 3, 8, 18)),
        # Friday of week 1 → the same Monday (Saturday + a day is before it).
        (datetime(2027, 3, 5, 9, 20), datetime(2027, 3, 8, 18)),
        # Monday of week 2, 9:20: that evening is less than a day away → week 3. The clocks
        # went forward on Sunday 14 March: still 18:00 local.
        (datetime(2027, 3, 8, 9, 20), datetime(2027, 3, 15, 18)),
        # Sunday 17:59 of week 1: Monday 18:00 is 24 h 1 min away.
        (datetime(2027, 3, 7, 17, 59), datetime(2027, 3, 8, 18)),
        # Sunday 18:01: a minute short of a day → week 3.
        (datetime(2027, 3, 7, 18, 1), datetime(2027, 3, 15, 18)),
        # A visit of the plan moved before its start: the plan's first day still counts.
        (datetime(2027, 2, 27, 9, 20), datetime(2027, 3, 1, 18)),
    ],
)
def test_weekly_checkins_keep_the_care_plans_weekday_at_six_in_the_evening(
    completed_local: datetime, expected_local: datetime
) -> None:
    series = _series(date(2027, 3, 1))
    completed = completed_local.replace(tzinfo=CHICAGO).astimezone(UTC)
    due = next_weekly(series, CHICAGO, completed)
    assert due.astimezone(CHICAGO).replace(tzinfo=None) == expected_local
    assert due - completed >= timedelta(hours=24)
