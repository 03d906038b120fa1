"""What check-in answers raised, for the chiropractor: the list, and acknowledging one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import Alert
from services.checkins.schemas import AlertStatus, Severity
from services.core import audit, clock
from services.core.auth.models import User
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, NotFound
from services.core.pagination import PageParams

RESOURCE = "alert"


async def list_alerts(
    session: AsyncSession,
    *,
    status: AlertStatus,
    severity: Severity | None,
    patient_id: uuid.UUID | None,
    page: PageParams,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[Alert]:
    """Urgent first, then newest; each one listed is audited."""
    query = select(Alert).order_by(
        case((Alert.severity == Severity.urgent.value, 0), else_=1),
        Alert.created_at.desc(),
        Alert.id,
    )
    if status == AlertStatus.open:
        query = query.where(Alert.acknowledged_at.is_(None))
    elif status == AlertStatus.acknowledged:
        query = query.where(Alert.acknowledged_at.is_not(None))
    if severity is not None:
        query = query.where(Alert.severity == severity.value)
    if patient_id is not None:
        query = query.where(Alert.patient_id == patient_id)
    rows = (await session.scalars(page.apply(query))).all()
    await audit.record_listed(
        session, rows[: page.limit], actor_id=actor.user_id, resource_type=RESOURCE, client=client
    )
    return rows


async def acknowledge(
    session: AsyncSession,
    alert_id: uuid.UUID,
    comment: str,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Alert:
    """Mark the alert seen, once: a second acknowledgement is a 409 naming the first."""
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound("No alert with this id.")
    if alert.acknowledged_by is not None:
        user = await session.get(User, alert.acknowledged_by)
        name = user.full_name if user is not None else "another user"
        raise Conflict(
            f"This alert was already acknowledged by {name}.",
            acknowledged_by=str(alert.acknowledged_by),
            acknowledged_at=alert.acknowledged_at,
        )
    alert.acknowledged_by = actor.user_id
    alert.acknowledged_at = clock.utcnow()
    alert.comment = comment
    await audit.record_about(
        session,
        alert,
        actor_id=actor.user_id,
        action="acknowledge",
        resource_type=RESOURCE,
        client=client,
        detail={"severity": alert.severity},
    )
    await session.flush()
    return alert
