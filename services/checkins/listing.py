"""What staff read about check-ins: the list (status only, every staff role) and one
check-in with its answers and alert (chiropractors). Each read is audited for its patient."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins.models import AUDIT_RESOURCE, Alert, Checkin, CheckinAnswers
from services.checkins.schemas import CheckinAlertOut, CheckinDetailOut, CheckinOut
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import NotFound
from services.core.pagination import PageParams


@dataclass(frozen=True)
class CheckinFilter:
    patient_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    statuses: Sequence[str] = ()


def _expired_now(now: datetime) -> ColumnElement[bool]:
    # The housekeeping task marks a sent check-in expired some time after its link stops
    # working; until then the row still says sent, but the truth is expired.
    return (Checkin.status == "sent") & (Checkin.expires_at <= now)


def _status(checkin: Checkin, now: datetime) -> str:
    """The status as of ``now``, for a row already loaded (``_expired_now`` in Python)."""
    if checkin.status == "sent" and checkin.expires_at is not None and checkin.expires_at <= now:
        return "expired"
    return checkin.status


def _status_filter(statuses: Sequence[str], now: datetime) -> ColumnElement[bool]:
    """Rows whose status as of ``now`` is one of ``statuses``."""
    expired = _expired_now(now)
    plain = [s for s in statuses if s not in ("sent", "expired")]
    wanted: ColumnElement[bool] = Checkin.status.in_(plain)
    if "sent" in statuses:
        wanted = wanted | ((Checkin.status == "sent") & ~expired)
    if "expired" in statuses:
        wanted = wanted | (Checkin.status == "expired") | expired
    return wanted


def _fields(checkin: Checkin, status: str) -> dict[str, Any]:
    return {
        "id": checkin.id,
        "patient_id": checkin.patient_id,
        "appointment_id": checkin.appointment_id,
        "kind": checkin.kind,
        "status": status,
        "due_at": checkin.due_at,
        "sent_at": checkin.sent_at,
        "expires_at": checkin.expires_at,
        "answered_at": checkin.answered_at,
    }


async def list_checkins(
    session: AsyncSession,
    where: CheckinFilter,
    page: PageParams,
    *,
    actor: Principal,
    client: ClientInfo,
) -> list[CheckinOut]:
    """Latest due first; filtering by status filters by the status shown."""
    now = clock.utcnow()
    query = select(Checkin)
    if where.patient_id is not None:
        query = query.where(Checkin.patient_id == where.patient_id)
    if where.appointment_id is not None:
        query = query.where(Checkin.appointment_id == where.appointment_id)
    if where.statuses:
        query = query.where(_status_filter(where.statuses, now))
    query = query.order_by(Checkin.due_at.desc(), Checkin.id.desc())
    rows = (await session.scalars(page.apply(query))).all()
    await audit.record_listed(
        session,
        rows[: page.limit],
        actor_id=actor.user_id,
        resource_type=AUDIT_RESOURCE,
        client=client,
    )
    return [CheckinOut(**_fields(c, _status(c, now))) for c in rows]


async def get_checkin(
    session: AsyncSession, checkin_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> CheckinDetailOut:
    checkin = await session.get(Checkin, checkin_id)
    if checkin is None:
        raise NotFound("No check-in with this id.")
    answers = await session.get(CheckinAnswers, checkin.id)
    alert = await session.scalar(select(Alert).where(Alert.checkin_id == checkin.id))
    await audit.record_about(
        session,
        checkin,
        actor_id=actor.user_id,
        action="read",
        resource_type=AUDIT_RESOURCE,
        client=client,
    )
    return CheckinDetailOut(
        **_fields(checkin, _status(checkin, clock.utcnow())),
        questionnaire_key=checkin.questionnaire_key,
        questionnaire_version=checkin.questionnaire_version,
        answers=answers.answers if answers is not None else None,
        alert=CheckinAlertOut(
            id=alert.id,
            severity=alert.severity,
            reasons=list(alert.reasons),
            acknowledged=alert.acknowledged_at is not None,
        )
        if alert is not None
        else None,
    )
