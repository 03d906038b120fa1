"""Note templates: what a new note of an appointment type starts from."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import get_appointment_type
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.notes.content import NoteContent
from services.notes.models import NoteTemplate


async def template_for(session: AsyncSession, type_id: uuid.UUID) -> NoteContent:
    """The type's template, or an empty note when it has none (404 for an unknown type)."""
    await get_appointment_type(session, type_id)
    saved = await session.get(NoteTemplate, type_id)
    return NoteContent.model_validate(saved.content) if saved else NoteContent()


async def save_template(
    session: AsyncSession,
    type_id: uuid.UUID,
    content: NoteContent,
    *,
    actor: Principal,
    client: ClientInfo,
) -> NoteContent:
    await get_appointment_type(session, type_id)
    saved = await session.get(NoteTemplate, type_id, with_for_update=True)
    values = content.model_dump(mode="json", exclude_none=True)
    if saved is None:
        session.add(
            NoteTemplate(appointment_type_id=type_id, content=values, updated_by=actor.user_id)
        )
    else:
        saved.content = values
        saved.updated_by = actor.user_id
        saved.updated_at = clock.utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="save_note_template",
        resource_type="appointment_type",
        resource_id=type_id,
        client=client,
    )
    return content
