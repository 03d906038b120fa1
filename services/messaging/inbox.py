"""What the front desk reads about messages: the outbox with each row's history (why a
reminder did not go out, which ones failed) and the texts patients sent in.

Every row listed is a read of its patient's data, so each leaves an audit row.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.pagination import PageParams
from services.messaging import kinds
from services.messaging.models import InboundSms, Message, MessageEvent
from services.messaging.schemas import InboundSmsOut, MessageEventOut, MessageOut, MessageRow
from services.messaging.webhook import RESOURCE as INBOUND_RESOURCE

RESOURCE = "message"
# Like appointments: every staff role works with a patient's visits and their reminders.
MESSAGE_ROLES = frozenset({Role.front_desk, Role.chiropractor, Role.admin})


@dataclass(frozen=True)
class MessageFilter:
    appointment_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    statuses: Sequence[str] = ()


async def _history(
    session: AsyncSession, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[MessageEventOut]]:
    """Each message's events in order, in one query for the whole page."""
    found: dict[uuid.UUID, list[MessageEventOut]] = defaultdict(list)
    if not message_ids:
        return found
    events = await session.scalars(
        select(MessageEvent)
        .where(MessageEvent.message_id.in_(message_ids))
        .order_by(MessageEvent.message_id, MessageEvent.id)
    )
    for event in events:
        found[event.message_id].append(MessageEventOut.model_validate(event))
    return found


async def list_messages(
    session: AsyncSession,
    where: MessageFilter,
    page: PageParams,
    *,
    actor: Principal,
    client: ClientInfo,
) -> list[MessageOut]:
    """Newest first (the order a "why did she not get a reminder?" question needs); alert
    emails only for chiropractors. Messages to someone not a patient yet (an online
    booking's code) are about nobody staff can open: left out."""
    query = select(Message).where(Message.patient_id.is_not(None))
    if where.appointment_id is not None:
        query = query.where(Message.appointment_id == where.appointment_id)
    if where.patient_id is not None:
        query = query.where(Message.patient_id == where.patient_id)
    if where.statuses:
        query = query.where(Message.status.in_(list(where.statuses)))
    if Role.chiropractor not in actor.roles:
        # An alert email exists only because a patient reported a red flag: clinical, so
        # for chiropractors (DESIGN.md roles: others see a check-in's status only).
        query = query.where(Message.kind.not_in(kinds.clinical()))
    query = query.order_by(Message.created_at.desc(), Message.id.desc())
    rows = (await session.scalars(page.apply(query))).all()
    shown = rows[: page.limit]
    history = await _history(session, [m.id for m in shown])
    await audit.record_listed(
        session, shown, actor_id=actor.user_id, resource_type=RESOURCE, client=client
    )
    return [
        MessageOut(**MessageRow.model_validate(m).model_dump(), history=history.get(m.id, []))
        for m in rows
    ]


async def list_inbound(
    session: AsyncSession,
    page: PageParams,
    *,
    patient_id: uuid.UUID | None,
    actor: Principal,
    client: ClientInfo,
) -> list[InboundSmsOut]:
    """Newest first. The text is what a patient wrote: each row shown is audited under
    its patient; a text from an unknown number is audited by itself."""
    query = select(InboundSms)
    if patient_id is not None:
        query = query.where(InboundSms.patient_id == patient_id)
    query = query.order_by(InboundSms.received_at.desc(), InboundSms.id.desc())
    rows = (await session.scalars(page.apply(query))).all()
    shown = rows[: page.limit]
    await audit.record_listed(
        session, shown, actor_id=actor.user_id, resource_type=INBOUND_RESOURCE, client=client
    )
    return [InboundSmsOut.model_validate(r) for r in rows]
