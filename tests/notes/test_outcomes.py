"""A patient's outcomes: every measure's series with the visits, as JSON and as a PNG chart
(chiropractors only, audited)."""

from __future__ import annotations

import io
import struct
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from matplotlib.image import imread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.models import Appointment
from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from services.notes import outcomes
from services.notes.models import Observation
from tests.appointments.conftest import Scheduling, add_patient, make_scheduling
from tests.checkins.support import new_checkin
from tests.factories import Factory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHICAGO = ZoneInfo("America/Chicago")


@dataclass
class History:
    scheduling: Scheduling
    visits: list[Appointment]  # completed, oldest first
    cancelled: Appointment

    @property
    def patient_id(self) -> str:
        return str(self.scheduling.patient.id)

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/patients/{self.patient_id}/outcomes{suffix}"


def _local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHICAGO)


@pytest.fixture
async def history(factory: Factory, session: AsyncSession) -> History:
    """Three completed weekly visits (pain and headache days from each note, a leg check
    from the first), a check-in between them, a cancelled visit; another patient's value."""
    scheduling = await make_scheduling(factory)
    first = date(2026, 3, 2)  # a Monday; the patient lives in America/Chicago
    visits = [
        await scheduling.appointment(_local(first + timedelta(weeks=n), 9), status="completed")
        for n in range(3)
    ]
    cancelled = await scheduling.appointment(
        _local(first + timedelta(days=3), 9), status="cancelled"
    )
    values = [(7, 12), (5, 8), (3, 4)]

    def observation(code: str, value: float, unit: str, at: datetime, **kw: object) -> Observation:
        return Observation(
            patient_id=scheduling.patient.id,
            code=code,
            value=Decimal(str(value)),
            unit=unit,
            at=at,
            **kw,
        )

    rows = []
    for visit, (pain, headache) in zip(visits, values, strict=True):
        link = {"source": "note", "appointment_id": visit.id}
        rows += [
            observation("headache_days", headache, "d", visit.starts_at, **link),
            observation("pain_nrs", pain, "score", visit.starts_at, **link),
        ]
    rows.append(
        observation("leg_check_pre", 0.75, "in", visits[0].starts_at, source="note",
                    appointment_id=visits[0].id)
    )  # fmt: skip
    answered = await new_checkin(session, visits[1])
    rows.append(observation("pain_nrs", 6, "score", _local(first + timedelta(days=10), 20),
                            source="checkin", checkin_id=answered.id))  # fmt: skip
    other = await add_patient(session)
    rows.append(
        Observation(
            patient_id=other.id, code="pain_nrs", value=Decimal(9), unit="score",
            at=visits[0].starts_at, source="note",
        )
    )  # fmt: skip
    session.add_all(rows)
    await session.flush()
    return History(scheduling=scheduling, visits=visits, cancelled=cancelled)


async def test_series_per_measure_with_the_visits(
    client: httpx.AsyncClient, history: History
) -> None:
    response = await client.get(history.url(), headers=history.scheduling.doctor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["patient_id"] == history.patient_id
    # OUTCOMES order, only measures with values; another patient's value is not here.
    assert [m["code"] for m in body["measures"]] == ["pain_nrs", "headache_days", "leg_check_pre"]
    pain, headache, leg = body["measures"]
    assert pain["unit"] == "score" and headache["unit"] == "d" and leg["unit"] == "in"
    assert [(p["value"], p["source"]) for p in pain["points"]] == [
        (7.0, "note"),
        (5.0, "note"),
        (6.0, "checkin"),
        (3.0, "note"),
    ]
    assert [p["appointment_id"] for p in pain["points"]] == [
        str(history.visits[0].id),
        str(history.visits[1].id),
        None,
        str(history.visits[2].id),
    ]
    ats = [datetime.fromisoformat(p["at"]) for p in pain["points"]]
    assert ats == sorted(ats)
    assert [p["value"] for p in headache["points"]] == [12.0, 8.0, 4.0]
    # Completed visits only: the cancelled one is not a visit that happened.
    assert [
        (v["appointment_id"], datetime.fromisoformat(v["starts_at"])) for v in body["visits"]
    ] == [(str(v.id), v.starts_at) for v in history.visits]


async def test_date_and_datetime_bounds(client: httpx.AsyncClient, history: History) -> None:
    headers = history.scheduling.doctor.headers

    async def window(**params: str) -> tuple[list[float], list[str]]:
        response = await client.get(history.url(), params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pain: dict[str, Any] = next(
            (m for m in body["measures"] if m["code"] == "pain_nrs"), {"points": []}
        )
        return [p["value"] for p in pain["points"]], [v["appointment_id"] for v in body["visits"]]

    ids = [str(v.id) for v in history.visits]
    # A date `to` includes its whole local day; the check-in is on the 12th at 20:00 local
    # (the 13th in UTC).
    assert await window(**{"from": "2026-03-09", "to": "2026-03-12"}) == ([5.0, 6.0], [ids[1]])
    assert await window(**{"from": "2026-03-10"}) == ([6.0, 3.0], [ids[2]])
    assert await window(to="2026-03-08") == ([7.0], [ids[0]])
    # A date-time `to` is exclusive, `from` inclusive.
    second = history.visits[1].starts_at.isoformat()
    assert await window(**{"from": second}) == ([5.0, 6.0, 3.0], ids[1:])
    assert await window(to=second) == ([7.0], ids[:1])
    assert await window(**{"from": "2027-01-01"}) == ([], [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-10", "to": "2026-03-09"}, "to"),
        ({"from": "2026-03-10T09:00:00-05:00", "to": "2026-03-10T09:00:00-05:00"}, "to"),
        ({"from": "1800-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"to": "9999-12-31T23:00:00-12:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
        ({"from": "2026-03-10T09:00:00"}, "from"),  # no offset
        ({"to": "yesterday"}, "to"),
    ],
)
async def test_bad_bounds_are_422(
    client: httpx.AsyncClient, history: History, params: dict[str, str], field: str
) -> None:
    for suffix in ("", ".png"):
        response = await client.get(
            history.url(suffix), params=params, headers=history.scheduling.doctor.headers
        )
        assert response.status_code == 422, response.text
        assert field in [e["loc"][1] for e in response.json()["errors"]]


async def test_unknown_patient_is_404(client: httpx.AsyncClient, history: History) -> None:
    for suffix in ("", ".png"):
        response = await client.get(
            f"/api/v1/patients/{uuid.uuid4()}/outcomes{suffix}",
            headers=history.scheduling.doctor.headers,
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", [Role.front_desk, Role.admin])
async def test_only_chiropractors(
    client: httpx.AsyncClient, history: History, factory: Factory, role: Role
) -> None:
    staff = await factory.staff(role)
    for suffix in ("", ".png"):
        response = await client.get(history.url(suffix), headers=staff.headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    anonymous = await client.get(history.url())
    assert anonymous.status_code == 401


async def test_reads_are_audited(
    client: httpx.AsyncClient, history: History, factory: Factory, session: AsyncSession
) -> None:
    doctor = history.scheduling.doctor
    await client.get(history.url(), params={"from": "2026-03-09"}, headers=doctor.headers)
    await client.get(history.url(".png"), headers=doctor.headers)
    refused = await factory.staff(Role.front_desk)
    await client.get(history.url(), headers=refused.headers)
    events = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.resource_id == history.patient_id, AuditEvent.action == "outcomes")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [(e.actor_id, e.resource_type) for e in events] == [(doctor.user.id, "patient")] * 2
    json_read, chart_read = (e.detail for e in events)
    assert json_read["patient_id"] == history.patient_id
    assert json_read["format"] == "json" and chart_read["format"] == "png"
    assert datetime.fromisoformat(json_read["from"]) == _local(date(2026, 3, 9), 0)
    assert chart_read["from"] is None and chart_read["to"] is None


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_chart_is_a_png_of_the_expected_size(
    client: httpx.AsyncClient, history: History
) -> None:
    response = await client.get(history.url(".png"), headers=history.scheduling.doctor.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    assert _png_size(response.content) == (outcomes.WIDTH_PX, outcomes.HEIGHT_PX)
    pixels = imread(io.BytesIO(response.content), format="png")
    assert pixels.shape[:2] == (outcomes.HEIGHT_PX, outcomes.WIDTH_PX)
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 5  # drawn
    # The chart's text chunks carry nothing (no software version, no name).
    assert b"tEXt" not in response.content
    assert history.scheduling.patient.family_name.encode() not in response.content
    bounded = await client.get(
        history.url(".png"),
        params={"from": "2026-03-01", "to": "2026-03-31"},
        headers=history.scheduling.doctor.headers,
    )
    assert bounded.status_code == 200
    assert _png_size(bounded.content) == (outcomes.WIDTH_PX, outcomes.HEIGHT_PX)


async def test_a_patient_without_data_still_gets_a_png(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    scheduling = await make_scheduling(factory)
    url = f"/api/v1/patients/{scheduling.patient.id}/outcomes"
    body = (await client.get(url, headers=scheduling.doctor.headers)).json()
    assert body["measures"] == [] and body["visits"] == []
    response = await client.get(f"{url}.png", headers=scheduling.doctor.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert _png_size(response.content) == (outcomes.WIDTH_PX, outcomes.HEIGHT_PX)
    assert imread(io.BytesIO(response.content), format="png").shape[:2] == (500, 900)


def test_titles_name_the_range_not_the_patient() -> None:
    data = outcomes.Outcomes(patient_id=uuid.uuid4(), measures=[], visits=[])
    unbounded = outcomes.window(None, None, CHICAGO)
    assert outcomes.title(data, unbounded, CHICAGO) == "Outcomes"
    bounded = outcomes.window(date(2026, 3, 1), date(2026, 3, 31), CHICAGO)
    assert outcomes.title(data, bounded, CHICAGO) == "Outcomes, 2026-03-01 to 2026-03-31"
    visit = outcomes.Visit(
        appointment_id=uuid.uuid4(), starts_at=datetime(2026, 3, 3, 3, tzinfo=UTC)
    )
    one = data.model_copy(update={"visits": [visit]})
    # 03:00 UTC on the 3rd is the evening of the 2nd in Chicago.
    assert outcomes.title(one, unbounded, CHICAGO) == "Outcomes, 2026-03-02 to 2026-03-02"


def test_charts_render_in_parallel_threads() -> None:
    """The object API keeps no global state: charts drawn at once come out identical."""
    point = outcomes.OutcomePoint(
        at=datetime(2026, 3, 2, 15, tzinfo=UTC), value=4, source="note", appointment_id=None
    )
    data = outcomes.Outcomes(
        patient_id=uuid.uuid4(),
        measures=[outcomes.OutcomeSeries(code="pain_nrs", unit="score", points=[point] * 3)],
        visits=[],
    )
    bounds = outcomes.window(date(2026, 3, 1), date(2026, 3, 31), CHICAGO)
    with ThreadPoolExecutor(max_workers=4) as pool:
        pngs = list(pool.map(lambda _: outcomes.render_png(data, bounds, CHICAGO), range(8)))
    assert len(set(pngs)) == 1


def test_a_single_point_renders() -> None:
    point = outcomes.OutcomePoint(
        at=datetime(2026, 3, 2, 15, tzinfo=UTC), value=4, source="checkin", appointment_id=None
    )
    data = outcomes.Outcomes(
        patient_id=uuid.uuid4(),
        measures=[outcomes.OutcomeSeries(code="headache_days", unit="d", points=[point])],
        visits=[],
    )
    png = outcomes.render_png(data, outcomes.window(None, None, CHICAGO), CHICAGO)
    assert _png_size(png) == (outcomes.WIDTH_PX, outcomes.HEIGHT_PX)
