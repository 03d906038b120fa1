"""A patient's clinical story: the timeline (every staff role, content by role), the
series of one outcome measure, and every measure with the visits as JSON or a chart
(chiropractors)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Response

from services.core.auth.deps import ChiropractorPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep
from services.core.types import IsoDate, IsoDateTime
from services.notes import outcomes, timeline
from services.notes.outcomes import Outcomes
from services.notes.service import OUTCOMES
from services.notes.timeline import ObservationOut, TimelineEntry

router = APIRouter(prefix="/api/v1/patients", tags=["visit notes"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such patient"}}

# The measures there are series of (the check-ins will add theirs to this list).
Measure = StrEnum("Measure", {code: code for code, _, _ in OUTCOMES})  # type: ignore[misc]


@router.get("/{patient_id}/timeline", response_model=Page[TimelineEntry], responses=_NOT_FOUND)
async def patient_timeline(
    patient_id: uuid.UUID,
    staff: StaffPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
) -> Page[TimelineEntry]:
    """Appointments, notes, addenda and outcome values, newest first. Front desk and admins
    see appointments and note statuses; chiropractors also see the clinical entries."""
    rows = await timeline.timeline(session, patient_id, page=page, actor=staff, client=client)
    return Page[TimelineEntry].build(rows, page)


@router.get("/{patient_id}/observations", response_model=Page[ObservationOut], responses=_NOT_FOUND)
async def patient_observations(
    patient_id: uuid.UUID,
    code: Measure,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
) -> Page[ObservationOut]:
    """One measure over time, oldest first, from signed notes (and later check-ins)."""
    rows = await timeline.observations(
        session, patient_id, code.value, page=page, actor=doctor, client=client
    )
    return Page[ObservationOut].build(rows, page)


_BOUNDS = (
    "A date (YYYY-MM-DD, the patient's local day) or a date-time with an offset; `from` is "
    "inclusive, a date `to` includes its whole day, a date-time `to` is exclusive."
)
From = Annotated[IsoDateTime | IsoDate | None, Query(alias="from", description=_BOUNDS)]
To = Annotated[IsoDateTime | IsoDate | None, Query(alias="to", description=_BOUNDS)]


@router.get("/{patient_id}/outcomes", response_model=Outcomes, responses=_NOT_FOUND)
async def patient_outcomes(
    patient_id: uuid.UUID,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    start: From = None,
    end: To = None,
) -> Outcomes:
    """Every outcome measure with values in the range (oldest first, from signed notes and
    check-ins) and the patient's completed visits."""
    data, _, _ = await outcomes.outcomes(
        session, patient_id, start=start, end=end, actor=doctor, client=client
    )
    return data


@router.get(
    "/{patient_id}/outcomes.png",
    response_class=Response,
    responses={
        200: {
            "description": "Pain and headache days over time, visits as dashed lines",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        **_NOT_FOUND,
    },
)
async def patient_outcomes_chart(
    patient_id: uuid.UUID,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    start: From = None,
    end: To = None,
) -> Response:
    """The outcomes as a 900x500 PNG chart: pain NRS (left axis) and headache days (right
    axis), check-in values hollow, completed visits as dashed lines; no name on it."""
    data, bounds, zone = await outcomes.outcomes(
        session, patient_id, start=start, end=end, actor=doctor, client=client, chart=True
    )
    png = await to_thread.run_sync(outcomes.render_png, data, bounds, zone)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
