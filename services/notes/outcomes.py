"""A patient's outcomes at a glance (chiropractors): every measure's series from signed notes
and check-ins, with the visits that happened, as JSON or as a chart.

The chart is drawn with matplotlib's object API (a ``Figure`` on its own Agg canvas, no pyplot
and no global state), so it is safe in a worker thread; the routes render it there, off the
event loop. It shows no name: "Outcomes", the date range and the numbers.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment
from services.clinic.intervals import local_instant
from services.core import audit
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import ValidationFailed
from services.notes.models import Observation
from services.notes.service import OUTCOMES
from services.patients import service as patients

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Bounds outside these are typing mistakes (and would overflow date arithmetic).
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
# What the chart draws, on its left and right axes.
CHARTED = ("pain_nrs", "headache_days")
WIDTH_PX, HEIGHT_PX, DPI = 900, 500, 100
NO_DATA = "No outcome data yet"

Bound = date | datetime


class OutcomePoint(BaseModel):
    at: datetime
    value: float
    source: str  # note, checkin
    appointment_id: uuid.UUID | None


class OutcomeSeries(BaseModel):
    code: str
    unit: str
    points: list[OutcomePoint]


class Visit(BaseModel):
    appointment_id: uuid.UUID
    starts_at: datetime


class Outcomes(BaseModel):
    patient_id: uuid.UUID
    measures: list[OutcomeSeries]
    visits: list[Visit]


@dataclass(frozen=True)
class Window:
    """[start, end) as instants, and the local dates a title names (None: not bounded)."""

    start: datetime | None
    end: datetime | None
    first_day: date | None
    last_day: date | None


def _bad_bound(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{name}: {message}.",
        errors=[{"loc": ["query", name], "msg": message, "type": "value_error"}],
    )


def window(start: Bound | None, end: Bound | None, zone: ZoneInfo) -> Window:
    """A date ``from`` starts at that local midnight; a date ``to`` includes its whole day.
    A date-time ``from`` is inclusive, a date-time ``to`` exclusive. Dates are read in the
    patient's time zone."""
    for name, bound in (("from", start), ("to", end)):
        if bound is not None and not _in_range(bound, zone):
            raise _bad_bound(name, "must fall between 1900 and 2200")
    low = _instant(start, zone, after=False)
    high = _instant(end, zone, after=True)
    if low is not None and high is not None and low >= high:
        raise _bad_bound("to", "must be after from")
    return Window(
        start=low,
        end=high,
        first_day=_day(start, zone) if start is not None else None,
        last_day=_day(end, zone) if end is not None else None,
    )


def _in_range(bound: Bound, zone: ZoneInfo) -> bool:
    try:
        return EARLIEST <= _day(bound, zone) <= LATEST
    except OverflowError:  # 9999-12-31T23:00-12:00 is past what datetime holds in UTC
        return False


def _day(bound: Bound, zone: ZoneInfo) -> date:
    return bound.astimezone(zone).date() if isinstance(bound, datetime) else bound


def _instant(bound: Bound | None, zone: ZoneInfo, *, after: bool) -> datetime | None:
    if bound is None or isinstance(bound, datetime):
        return bound
    return local_instant(bound + timedelta(days=1) if after else bound, time(0), zone)


async def outcomes(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    start: Bound | None,
    end: Bound | None,
    actor: Principal,
    client: ClientInfo,
    chart: bool = False,
) -> tuple[Outcomes, Window, ZoneInfo]:
    """Every measure with points in the window (OUTCOMES order, oldest point first) and the
    patient's completed visits in it; audited as a read of the patient's clinical data."""
    patient = await patients.get_patient(session, patient_id, actor=actor, client=client, action="")
    zone = ZoneInfo(patient.time_zone)
    bounds = window(start, end, zone)
    codes = [code for code, _, _ in OUTCOMES]
    observed = select(Observation).where(
        Observation.patient_id == patient.id, Observation.code.in_(codes)
    )
    visited = select(Appointment.id, Appointment.starts_at).where(
        Appointment.patient_id == patient.id, Appointment.status == "completed"
    )
    if bounds.start is not None:
        observed = observed.where(Observation.at >= bounds.start)
        visited = visited.where(Appointment.starts_at >= bounds.start)
    if bounds.end is not None:
        observed = observed.where(Observation.at < bounds.end)
        visited = visited.where(Appointment.starts_at < bounds.end)
    rows = (await session.scalars(observed.order_by(Observation.at, Observation.id))).all()
    visits = (await session.execute(visited.order_by(Appointment.starts_at, Appointment.id))).all()
    await audit.record_for_patient(
        session,
        actor_id=actor.user_id,
        action="outcomes",
        resource_type="patient",
        resource_id=patient.id,
        patient_id=patient.id,
        client=client,
        detail={
            "format": "png" if chart else "json",
            "from": bounds.start.isoformat() if bounds.start else None,
            "to": bounds.end.isoformat() if bounds.end else None,
        },
    )
    return (
        Outcomes(
            patient_id=patient.id,
            measures=_series(rows),
            visits=[Visit(appointment_id=v.id, starts_at=v.starts_at) for v in visits],
        ),
        bounds,
        zone,
    )


def _series(rows: Sequence[Observation]) -> list[OutcomeSeries]:
    by_code: dict[str, list[Observation]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
    return [
        OutcomeSeries(
            code=code,
            unit=by_code[code][0].unit,
            points=[
                OutcomePoint(
                    at=o.at, value=float(o.value), source=o.source, appointment_id=o.appointment_id
                )
                for o in by_code[code]
            ],
        )
        for code, _, _ in OUTCOMES
        if code in by_code
    ]


def _x(at: datetime, zone: ZoneInfo) -> float:
    """Where ``at`` goes on the time axis: the patient's local wall-clock time."""
    from matplotlib.dates import date2num

    return float(date2num(at.astimezone(zone).replace(tzinfo=None)))  # type: ignore[no-untyped-call]


def title(data: Outcomes, bounds: Window, zone: ZoneInfo) -> str:
    """The chart's title: Outcomes and the date range asked for, else the data's own."""
    instants = [p.at for m in data.measures if m.code in CHARTED for p in m.points]
    instants += [v.starts_at for v in data.visits]
    first = bounds.first_day or (min(instants).astimezone(zone).date() if instants else None)
    last = bounds.last_day or (max(instants).astimezone(zone).date() if instants else None)
    if first is None and last is None:
        return "Outcomes"
    return f"Outcomes, {first.isoformat() if first else '…'} to {last.isoformat() if last else '…'}"


def render_png(data: Outcomes, bounds: Window, zone: ZoneInfo) -> bytes:
    """Pain NRS (left axis) and headache days (right axis) over time, completed visits as
    dashed vertical lines; check-in values have hollow markers. Blocking: call it in a
    worker thread."""
    # Imported here: matplotlib takes about a second to import, which only this needs.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    # Fixed margins: the layout is always the same two axes, title and legend row, and a
    # layout engine solving for it was 40% of the rendering time.
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    figure.subplots_adjust(left=0.08, right=0.92, top=0.92, bottom=0.16)
    FigureCanvasAgg(figure)
    series = {m.code: m for m in data.measures if m.code in CHARTED and m.points}
    axes = figure.add_subplot()
    axes.set_title(title(data, bounds, zone), fontsize=13)
    if not series:
        axes.set_axis_off()
        axes.text(
            0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=18, color="0.35",
            transform=axes.transAxes,
        )  # fmt: skip
        return _png(figure)

    right = axes.twinx()
    handles: list[Line2D] = []
    styles = (
        ("pain_nrs", axes, "tab:blue", "o", "Pain (NRS 0-10)"),
        ("headache_days", right, "tab:orange", "s", "Headache days"),
    )
    for code, ax, colour, marker, label in styles:
        measure = series.get(code)
        if measure is None:
            continue
        xs = [_x(p.at, zone) for p in measure.points]
        ys = [p.value for p in measure.points]
        (line,) = ax.plot(xs, ys, color=colour, marker=marker, markersize=7, label=label)
        handles.append(line)
        checkins = [
            (x, y) for x, y, p in zip(xs, ys, measure.points, strict=True) if p.source == "checkin"
        ]
        if checkins:
            ax.plot(
                [x for x, _ in checkins], [y for _, y in checkins], linestyle="none",
                marker=marker, markersize=7, markerfacecolor="white", markeredgecolor=colour,
            )  # fmt: skip
    for visit in data.visits:
        axes.axvline(_x(visit.starts_at, zone), color="0.55", linestyle="--", linewidth=1)
    if data.visits:
        handles.append(Line2D([], [], color="0.55", linestyle="--", linewidth=1, label="Visit"))
    if any(p.source == "checkin" for m in series.values() for p in m.points):
        handles.append(
            Line2D([], [], color="0.3", marker="o", linestyle="none", markerfacecolor="white",
                   label="Check-in (hollow)")
        )  # fmt: skip

    axes.set_ylim(-0.3, 10.3)
    axes.set_yticks(range(0, 11, 2))
    axes.set_ylabel("Pain (NRS 0-10)", color="tab:blue")
    headache = series.get("headache_days")
    top = max((p.value for p in headache.points), default=0.0) if headache else 0.0
    right.set_ylim(0, max(top * 1.15, 5.0))
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylabel("Headache days", color="tab:orange")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if bounds.start is not None or bounds.end is not None:
        axes.set_xlim(
            left=_x(bounds.start, zone) if bounds.start else None,
            right=_x(bounds.end, zone) if bounds.end else None,
        )
    axes.grid(axis="y", color="0.9")
    # Below the plot, one row: never over a value, and no search for a free corner ("best"
    # tests every point and was a quarter of the rendering time).
    figure.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=9)
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: the image holds the chart and nothing else.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
