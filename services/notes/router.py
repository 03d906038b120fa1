"""Visit notes under /api/v1/notes. Content routes are for chiropractors; every staff role
may list notes to see that one exists and its status."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from services.core.auth.deps import ChiropractorPrincipal, StaffPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep
from services.notes import service
from services.notes.models import VisitNote
from services.notes.schemas import (
    AddendumIn,
    NoteCreate,
    NoteOut,
    NoteSummary,
    NoteUpdate,
    RevisionOut,
)

router = APIRouter(prefix="/api/v1/notes", tags=["visit notes"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such note"}}
_CHANGE: dict[int | str, dict[str, object]] = {
    **_NOT_FOUND,
    409: {"description": "The note is signed (add an addendum) or discarded"},
}


async def _answer(session: SessionDep, note: VisitNote, response: Response) -> NoteOut:
    set_etag(response, note.version)
    return await service.to_out(session, note)


@router.post(
    "",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "No such appointment"},
        409: {"description": "Another practitioner's visit, no visit, or a note exists"},
    },
)
async def create_note(
    body: NoteCreate,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> NoteOut:
    """Start the note of one of your own visits (a draft)."""
    note = await service.create_note(session, body, actor=doctor, client=client)
    return await _answer(session, note, response)


@router.get("", response_model=Page[NoteSummary])
async def list_notes(
    staff: StaffPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    appointment_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> Page[NoteSummary]:
    """Whether notes exist and their status (no clinical content), newest first."""
    rows = await service.list_notes(
        session,
        appointment_id=appointment_id,
        patient_id=patient_id,
        page=page,
        actor=staff,
        client=client,
    )
    return Page[NoteSummary].build([NoteSummary.model_validate(n) for n in rows], page)


@router.get("/{note_id}", response_model=NoteOut, responses=_NOT_FOUND)
async def get_note(
    note_id: uuid.UUID,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> NoteOut:
    """The note with its addenda; every read is audited."""
    note = await service.get_note(session, note_id, actor=doctor, client=client)
    return await _answer(session, note, response)


@router.patch("/{note_id}", response_model=NoteOut, responses=_CHANGE)
async def update_note(
    note_id: uuid.UUID,
    body: NoteUpdate,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> NoteOut:
    """Save the draft (author only; needs ``If-Match``); each save keeps a revision."""
    note = await service.update_note(
        session, note_id, body, if_match=if_match, actor=doctor, client=client
    )
    return await _answer(session, note, response)


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_CHANGE)
async def discard_note(
    note_id: uuid.UUID, doctor: ChiropractorPrincipal, session: SessionDep, client: ClientDep
) -> None:
    """Discard a draft (author only); signed notes stay forever."""
    await service.discard_note(session, note_id, actor=doctor, client=client)


@router.post(
    "/{note_id}/sign",
    response_model=NoteOut,
    responses={**_CHANGE, 422: {"description": "Required content missing (listed)"}},
)
async def sign_note(
    note_id: uuid.UUID,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> NoteOut:
    """Sign (author only): the content is final from now on, and its hash is kept."""
    note = await service.sign_note(session, note_id, actor=doctor, client=client)
    return await _answer(session, note, response)


@router.post(
    "/{note_id}/addenda",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_NOT_FOUND, 409: {"description": "The note is not signed yet"}},
)
async def add_addendum(
    note_id: uuid.UUID,
    body: AddendumIn,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> NoteOut:
    """Append to a signed note (any chiropractor); addenda are never edited."""
    note = await service.add_addendum(session, note_id, body, actor=doctor, client=client)
    return await _answer(session, note, response)


@router.get("/{note_id}/revisions", response_model=list[RevisionOut], responses=_NOT_FOUND)
async def revisions(
    note_id: uuid.UUID, doctor: ChiropractorPrincipal, session: SessionDep, client: ClientDep
) -> list[RevisionOut]:
    """Every saved state of the draft, oldest first."""
    rows = await service.revisions(session, note_id, actor=doctor, client=client)
    return [RevisionOut.model_validate(r) for r in rows]
