"""The front desk's view of messages: /api/v1/messages and /api/v1/inbound-sms."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep
from services.messaging import inbox
from services.messaging.schemas import InboundSmsOut, MessageOut, MessageStatus

router = APIRouter(prefix="/api/v1", tags=["messages"])

Staff = Annotated[Principal, Depends(require_roles(*inbox.MESSAGE_ROLES))]


@router.get("/messages", response_model=Page[MessageOut])
async def list_messages(
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    appointment_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    status_filter: Annotated[
        list[MessageStatus] | None,
        Query(alias="status", max_length=6, description="May repeat; e.g. failed"),
    ] = None,
) -> Page[MessageOut]:
    """Messages to patients, newest first, each with its history (queued, sent, skipped
    and why, retries, failure). Never the text. Each message listed is audited."""
    rows = await inbox.list_messages(
        session,
        inbox.MessageFilter(
            appointment_id=appointment_id, patient_id=patient_id, statuses=status_filter or ()
        ),
        page,
        actor=staff,
        client=client,
    )
    return Page[MessageOut].build(rows, page)


@router.get("/inbound-sms", response_model=Page[InboundSmsOut])
async def list_inbound_sms(
    staff: Staff,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    patient_id: uuid.UUID | None = None,
) -> Page[InboundSmsOut]:
    """Texts patients sent to the clinic's number, newest first, with what was done
    (confirmed, opted_out, stored). Each one listed is audited."""
    rows = await inbox.list_inbound(
        session, page, patient_id=patient_id, actor=staff, client=client
    )
    return Page[InboundSmsOut].build(rows, page)
