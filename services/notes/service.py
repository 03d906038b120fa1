"""Visit notes: draft, save (a revision each time), sign (then final), addenda.

Access (DESIGN.md roles): chiropractors read every note and write their own; front desk
and admins without the chiropractor role see that a note exists and its status, never its
content. Every read of content is audited.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.appointments import service as appointments
from services.appointments.service import Appointment
from services.clinic.service import get_practitioner
from services.core import audit, clock
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams
from services.notes import computed, templates
from services.notes.content import NoteContent, missing_to_sign, value_at
from services.notes.models import NoteAddendum, NoteRevision, Observation, VisitNote
from services.notes.observations import earliest_value as earliest_value
from services.notes.observations import note_status_of as note_status_of
from services.notes.observations import (
    record_checkin_observations as record_checkin_observations,
)
from services.notes.schemas import (
    AddendumIn,
    AddendumOut,
    NoteCreate,
    NoteOut,
    NoteStatus,
    NoteSummary,
    NoteUpdate,
)

RESOURCE = "visit_note"
CLINICAL = frozenset({Role.chiropractor})
# Visits that did not happen have no note.
NO_VISIT = frozenset({"cancelled", "no_show", "rescheduled"})
# Outcome values a signed note adds to the patient's series: (code, path, unit).
OUTCOMES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("pain_nrs", ("subjective", "pain_nrs"), "score"),
    ("headache_days", ("subjective", "headache_days"), "d"),
    ("migraine_attacks", ("subjective", "migraine_attacks"), "count"),
    ("sleep_quality", ("subjective", "sleep_quality"), "score"),
    ("leg_check_pre", ("objective", "leg_check_pre", "difference_in"), "in"),
    ("leg_check_post", ("objective", "leg_check_post", "difference_in"), "in"),
)


async def _audit(
    session: AsyncSession,
    actor: Principal,
    client: ClientInfo,
    action: str,
    note: VisitNote,
    detail: dict[str, Any] | None = None,
) -> None:
    await audit.record_about(
        session,
        note,
        actor_id=actor.user_id,
        action=action,
        resource_type=RESOURCE,
        client=client,
        detail=detail,
    )


def _clinician(actor: Principal) -> None:
    if not actor.has_any(CLINICAL):
        raise Forbidden("Only chiropractors see or write the clinical content of visit notes.")


def _author(actor: Principal, note: VisitNote) -> None:
    if note.author_id != actor.user_id:
        raise Forbidden("Only the note's author may change or sign it.")


def _draft(note: VisitNote) -> None:
    if note.status == NoteStatus.signed:
        raise Conflict("This note is signed and cannot change; add an addendum instead.")
    if note.status == NoteStatus.discarded:
        raise Conflict("This draft was discarded.")


def _dump(content: NoteContent) -> dict[str, Any]:
    return content.model_dump(mode="json", exclude_none=True)


async def _load_note(
    session: AsyncSession, note_id: uuid.UUID, *, for_update: bool = False
) -> VisitNote:
    note = await session.get(VisitNote, note_id, with_for_update=for_update)
    if note is None:
        raise NotFound("No visit note with this id.")
    return note


async def _own_draft(session: AsyncSession, note_id: uuid.UUID, actor: Principal) -> VisitNote:
    """The caller's own draft, locked: 404, then 403 (not a chiropractor, not the author),
    then 409 (signed or discarded)."""
    note = await _load_note(session, note_id, for_update=True)
    _clinician(actor)
    _author(actor, note)
    _draft(note)
    return note


def _revision(note: VisitNote, actor: Principal) -> NoteRevision:
    return NoteRevision(
        note_id=note.id, version=note.version, content=note.content, saved_by=actor.user_id
    )


async def create_note(
    session: AsyncSession, data: NoteCreate, *, actor: Principal, client: ClientInfo
) -> VisitNote:
    appointment = await appointments.get_appointment(
        session, data.appointment_id, actor=actor, client=client, action=""
    )
    _clinician(actor)
    practitioner = await get_practitioner(session, appointment.practitioner_id)
    if practitioner.user_id != actor.user_id:
        raise Conflict(
            f"This is {practitioner.display_name}'s appointment; only they write its note."
        )
    if appointment.status in NO_VISIT:
        raise Conflict(
            f"The appointment is {appointment.status.replace('_', ' ')}: no visit, no note."
        )
    existing = await session.scalar(
        select(VisitNote.id).where(
            VisitNote.appointment_id == appointment.id, VisitNote.status != NoteStatus.discarded
        )
    )
    if existing is not None:
        raise Conflict("This appointment already has a note.", note_id=str(existing))
    # Without content, the note starts from its appointment type's template.
    content = (
        data.content
        if "content" in data.model_fields_set
        else await templates.template_for(session, appointment.appointment_type_id)
    )
    note = VisitNote(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        practitioner_id=appointment.practitioner_id,
        author_id=actor.user_id,
        content=_dump(content),
    )
    session.add(note)
    await session.flush()  # the unique index has the last word on "one note per visit"
    await session.refresh(note)
    session.add(_revision(note, actor))
    await _audit(session, actor, client, "create", note)
    return note


async def get_note(
    session: AsyncSession, note_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> VisitNote:
    note = await _load_note(session, note_id)
    _clinician(actor)
    await _audit(session, actor, client, "read", note)
    return note


async def update_note(
    session: AsyncSession,
    note_id: uuid.UUID,
    data: NoteUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> VisitNote:
    note = await _own_draft(session, note_id, actor)
    check_version(note.version, expected_version(if_match))
    content = NoteContent.model_validate(note.content)
    for section in data.model_fields_set:
        value = getattr(data, section)
        if value is not None:
            setattr(content, section, value)
    note.content = _dump(content)
    note.updated_at = clock.utcnow()
    await session.flush()
    session.add(_revision(note, actor))
    await _audit(
        session, actor, client, "update", note, {"sections": sorted(data.model_fields_set)}
    )
    return note


async def discard_note(
    session: AsyncSession, note_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    """Drafts are discarded, not deleted: their revisions stay as history."""
    note = await _own_draft(session, note_id, actor)
    note.status = NoteStatus.discarded
    note.updated_at = clock.utcnow()
    await session.flush()
    await _audit(session, actor, client, "discard", note)


def content_hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sign_note(
    session: AsyncSession, note_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> VisitNote:
    note = await _own_draft(session, note_id, actor)
    content = NoteContent.model_validate(note.content)
    missing = missing_to_sign(content)
    if missing:
        raise ValidationFailed(
            "The note cannot be signed yet: add " + "; ".join(m for _, m in missing) + ".",
            errors=[
                {
                    "loc": ["content", *path],
                    "msg": f"{sentence} is required to sign",
                    "type": "missing",
                }
                for path, sentence in missing
            ],
        )
    appointment = await appointments.get_appointment(
        session, note.appointment_id, actor=actor, client=client, action=""
    )
    now = clock.utcnow()
    note.status = NoteStatus.signed
    note.signed_at = now
    note.content_hash = content_hash(note.content)
    note.updated_at = now
    for code, path, unit in OUTCOMES:
        value = value_at(content, path)
        if value is not None:
            session.add(
                Observation(
                    patient_id=note.patient_id,
                    code=code,
                    value=Decimal(str(value)),
                    unit=unit,
                    at=appointment.starts_at,
                    source="note",
                    note_id=note.id,
                    appointment_id=note.appointment_id,
                )
            )
    await session.flush()
    await _audit(session, actor, client, "sign", note, {"content_hash": note.content_hash})
    return note


async def add_addendum(
    session: AsyncSession,
    note_id: uuid.UUID,
    data: AddendumIn,
    *,
    actor: Principal,
    client: ClientInfo,
) -> VisitNote:
    note = await _load_note(session, note_id)
    _clinician(actor)
    if note.status != NoteStatus.signed:
        raise Conflict("Addenda are for signed notes; change the draft itself.")
    session.add(NoteAddendum(note_id=note.id, author_id=actor.user_id, text=data.text))
    await session.flush()
    await _audit(session, actor, client, "addendum", note)
    return note


async def revisions(
    session: AsyncSession, note_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> Sequence[NoteRevision]:
    note = await get_note(session, note_id, actor=actor, client=client)
    rows = await session.scalars(
        select(NoteRevision).where(NoteRevision.note_id == note.id).order_by(NoteRevision.version)
    )
    return rows.all()


async def previous_content(session: AsyncSession, note: VisitNote) -> NoteContent | None:
    """The patient's last signed note from an earlier visit than this one."""
    this_visit = select(Appointment.starts_at).where(Appointment.id == note.appointment_id)
    content = await session.scalar(
        select(VisitNote.content)
        .join(Appointment, Appointment.id == VisitNote.appointment_id)
        .where(
            VisitNote.patient_id == note.patient_id,
            VisitNote.status == NoteStatus.signed,
            VisitNote.id != note.id,
            Appointment.starts_at < this_visit.scalar_subquery(),
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )
    return None if content is None else NoteContent.model_validate(content)


async def to_out(session: AsyncSession, note: VisitNote) -> NoteOut:
    addenda = await session.scalars(
        select(NoteAddendum)
        .where(NoteAddendum.note_id == note.id)
        .order_by(NoteAddendum.created_at, NoteAddendum.id)
    )
    summary = NoteSummary.model_validate(note)
    content = NoteContent.model_validate(note.content)
    return NoteOut(
        **summary.model_dump(),
        content=content,
        changes=computed.changes(content, await previous_content(session, note)),
        content_hash=note.content_hash,
        addenda=[AddendumOut.model_validate(a) for a in addenda],
    )


async def list_notes(
    session: AsyncSession,
    *,
    appointment_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[VisitNote]:
    """Summaries (status, no content) for every staff role; each one listed is audited."""
    query = select(VisitNote).order_by(VisitNote.created_at.desc(), VisitNote.id)
    if appointment_id is not None:
        query = query.where(VisitNote.appointment_id == appointment_id)
    if patient_id is not None:
        query = query.where(VisitNote.patient_id == patient_id)
    rows = (await session.scalars(page.apply(query))).all()
    await audit.record_listed(
        session, rows[: page.limit], actor_id=actor.user_id, resource_type=RESOURCE, client=client
    )
    return rows
