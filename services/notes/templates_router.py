"""Note templates per appointment type, kept by the chiropractors."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.core.auth.deps import ChiropractorPrincipal
from services.core.deps import ClientDep, SessionDep
from services.notes import templates
from services.notes.content import NoteContent

router = APIRouter(prefix="/api/v1/appointment-types", tags=["visit notes"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such type"}}


@router.get("/{type_id}/note-template", response_model=NoteContent, responses=_NOT_FOUND)
async def get_template(
    type_id: uuid.UUID, doctor: ChiropractorPrincipal, session: SessionDep
) -> NoteContent:
    """What a new note of this type starts with (empty when none was saved)."""
    return await templates.template_for(session, type_id)


@router.put("/{type_id}/note-template", response_model=NoteContent, responses=_NOT_FOUND)
async def put_template(
    type_id: uuid.UUID,
    body: NoteContent,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> NoteContent:
    """Replace the template (e.g. new-patient exam vs. follow-up)."""
    return await templates.save_template(session, type_id, body, actor=doctor, client=client)
