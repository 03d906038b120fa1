from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.core.audit.schemas import AuditEventOut
from services.core.audit.service import AuditFilter, list_events
from services.core.auth.deps import AdminPrincipal
from services.core.deps import SessionDep
from services.core.pagination import Page, PageDep
from services.core.types import NO_NUL, IsoDateTime

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])

ShortText = Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)]


@router.get("", response_model=Page[AuditEventOut])
async def list_audit_events(
    admin: AdminPrincipal,
    session: SessionDep,
    page: PageDep,
    actor_id: uuid.UUID | None = None,
    resource_type: ShortText = None,
    resource_id: ShortText = None,
    action: ShortText = None,
    patient_id: Annotated[
        uuid.UUID | None,
        Query(description="Everything about one patient: their record and records naming them"),
    ] = None,
    at_from: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    at_to: Annotated[IsoDateTime | None, Query(alias="to")] = None,
) -> Page[AuditEventOut]:
    """The audit trail, newest first: who did what to which record, when and from where."""
    where = AuditFilter(
        actor_id=actor_id,
        resource_type=resource_type,
        resource_id=resource_id,
        action=action,
        patient_id=patient_id,
        at_from=at_from,
        at_to=at_to,
    )
    rows = await list_events(session, where, page)
    return Page[AuditEventOut].build([AuditEventOut.model_validate(r) for r in rows], page)
