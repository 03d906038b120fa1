"""A patient's story in one list: appointments, notes, addenda and outcome values, newest
first, paged by PostgreSQL (one UNION ALL query, whatever the history holds).

What a role sees follows DESIGN.md: every staff role sees appointments and that notes exist
with their status; chiropractors also see each note's chief complaint, the addenda and the
outcome values.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments.service import Appointment
from services.core import audit
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.pagination import PageParams
from services.notes.models import NoteAddendum, Observation, VisitNote
from services.patients import service as patients


class TimelineEntry(BaseModel):
    at: datetime
    kind: str  # appointment, note, addendum, observation
    id: str
    detail: dict[str, Any]


class ObservationOut(BaseModel):
    code: str
    value: float
    unit: str
    at: datetime
    source: str
    appointment_id: uuid.UUID | None


async def _patient(
    session: AsyncSession, patient_id: uuid.UUID, actor: Principal, client: ClientInfo
) -> uuid.UUID:
    patient = await patients.get_patient(session, patient_id, actor=actor, client=client, action="")
    return patient.id


async def timeline(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[TimelineEntry]:
    pid = await _patient(session, patient_id, actor, client)
    clinical = actor.has_any(frozenset({Role.chiropractor}))
    parts = [
        select(
            Appointment.starts_at.label("at"),
            literal("appointment").label("kind"),
            cast(Appointment.id, String).label("id"),
            func.jsonb_build_object(
                "status",
                Appointment.status,
                "practitioner_id",
                Appointment.practitioner_id,
                "appointment_type_id",
                Appointment.appointment_type_id,
            ).label("detail"),
        ).where(Appointment.patient_id == pid, Appointment.status != "rescheduled"),
        select(
            func.coalesce(VisitNote.signed_at, VisitNote.created_at).label("at"),
            literal("note").label("kind"),
            cast(VisitNote.id, String).label("id"),
            func.jsonb_build_object(
                "status",
                VisitNote.status,
                "appointment_id",
                VisitNote.appointment_id,
                *(
                    ("chief_complaint", VisitNote.content["subjective"]["chief_complaint"])
                    if clinical
                    else ()
                ),
            ).label("detail"),
        ).where(VisitNote.patient_id == pid, VisitNote.status != "discarded"),
    ]
    if clinical:
        parts.append(
            select(
                NoteAddendum.created_at.label("at"),
                literal("addendum").label("kind"),
                cast(NoteAddendum.id, String).label("id"),
                func.jsonb_build_object(
                    "note_id", NoteAddendum.note_id, "text", NoteAddendum.text
                ).label("detail"),
            )
            .join(VisitNote, VisitNote.id == NoteAddendum.note_id)
            .where(VisitNote.patient_id == pid)
        )
        parts.append(
            select(
                Observation.at.label("at"),
                literal("observation").label("kind"),
                cast(Observation.id, String).label("id"),
                func.jsonb_build_object(
                    "code", Observation.code, "value", Observation.value, "unit", Observation.unit
                ).label("detail"),
            ).where(Observation.patient_id == pid)
        )
    union = union_all(*parts).subquery()
    query = select(union).order_by(union.c.at.desc(), union.c.kind, union.c.id)
    rows = (await session.execute(page.apply(query))).all()
    await audit.record_for_patient(
        session,
        actor_id=actor.user_id,
        action="timeline",
        resource_type="patient",
        resource_id=pid,
        patient_id=pid,
        client=client,
        detail={"clinical": clinical},
    )
    return [TimelineEntry(at=r.at, kind=r.kind, id=r.id, detail=r.detail) for r in rows]


async def observations(
    session: AsyncSession,
    patient_id: uuid.UUID,
    code: str,
    *,
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[ObservationOut]:
    """One measure's series, oldest first (the order a chart draws it)."""
    pid = await _patient(session, patient_id, actor, client)
    rows = await session.scalars(
        page.apply(
            select(Observation)
            .where(Observation.patient_id == pid, Observation.code == code)
            .order_by(Observation.at, Observation.id)
        )
    )
    await audit.record_for_patient(
        session,
        actor_id=actor.user_id,
        action="observations",
        resource_type="patient",
        resource_id=pid,
        patient_id=pid,
        client=client,
        detail={"code": code},
    )
    return [
        ObservationOut(
            code=o.code,
            value=float(o.value),
            unit=o.unit,
            at=o.at,
            source=o.source,
            appointment_id=o.appointment_id,
        )
        for o in rows
    ]
