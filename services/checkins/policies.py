"""The admin's check-in policies: saved rows per appointment type (and location), and the
policy a visit would get (``policy.effective``). Every change is audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Boolean, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins import policy
from services.checkins.models import CheckinPolicy
from services.checkins.schemas import EffectivePolicyOut, PolicyIn
from services.clinic.service import AppointmentType, get_appointment_type, get_location
from services.core import audit, clock
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import NotFound
from services.core.pagination import PageParams

RESOURCE = "checkin_policy"
_UNIQUE = "uq_checkin_policies_appointment_type_id_location_id"


async def _references(
    session: AsyncSession, type_id: uuid.UUID, location_id: uuid.UUID | None
) -> AppointmentType:
    """The type, after checking both ids exist: 404 naming the field, as booking answers
    an unknown practitioner_id."""
    try:
        kind = await get_appointment_type(session, type_id)
    except NotFound:
        raise NotFound("No appointment type with this id (appointment_type_id).") from None
    if location_id is not None:
        try:
            await get_location(session, location_id)
        except NotFound:
            raise NotFound("No location with this id (location_id).") from None
    return kind


async def list_policies(
    session: AsyncSession,
    page: PageParams,
    *,
    appointment_type_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
) -> Sequence[CheckinPolicy]:
    """Saved rows; per type the every-location row first, then one per location."""
    query = select(CheckinPolicy).order_by(
        CheckinPolicy.appointment_type_id,
        CheckinPolicy.location_id.nulls_first(),
        CheckinPolicy.id,
    )
    if appointment_type_id is not None:
        query = query.where(CheckinPolicy.appointment_type_id == appointment_type_id)
    if location_id is not None:
        query = query.where(CheckinPolicy.location_id == location_id)
    return (await session.scalars(page.apply(query))).all()


async def effective_policy(
    session: AsyncSession, type_id: uuid.UUID, location_id: uuid.UUID
) -> EffectivePolicyOut:
    kind = await _references(session, type_id, location_id)
    found = await policy.effective(session, kind, location_id)
    return EffectivePolicyOut(
        appointment_type_id=type_id,
        location_id=location_id,
        after_visit_hours=found.after_visit_hours,
        weekly_in_series=found.weekly_in_series,
        is_default=found.is_default,
    )


async def put_policy(
    session: AsyncSession, data: PolicyIn, *, actor: Principal, client: ClientInfo
) -> CheckinPolicy:
    """One row per (type, location): a second PUT for the pair updates the first row. The
    upsert is one statement, so two admins saving at once cannot make two rows."""
    await _references(session, data.appointment_type_id, data.location_id)
    values = {
        "after_visit_hours": data.after_visit_hours,
        "weekly_in_series": data.weekly_in_series,
        "updated_at": clock.utcnow(),
    }
    written = await session.execute(
        insert(CheckinPolicy)
        .values(
            appointment_type_id=data.appointment_type_id, location_id=data.location_id, **values
        )
        .on_conflict_do_update(constraint=_UNIQUE, set_=values)
        # xmax is 0 on a freshly inserted row version: tells "create" from "update".
        .returning(CheckinPolicy.id, literal_column("xmax = 0", Boolean).label("created"))
    )
    policy_id, created = written.one()
    row = await session.get(CheckinPolicy, policy_id, populate_existing=True)
    assert row is not None  # written by this transaction
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="create" if created else "update",
        resource_type=RESOURCE,
        resource_id=row.id,
        client=client,
        detail=_describe(row),
    )
    return row


async def delete_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Principal, client: ClientInfo
) -> None:
    row = await session.get(CheckinPolicy, policy_id, with_for_update=True)
    if row is None:
        raise NotFound("No check-in policy with this id.")
    detail = _describe(row)
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="delete",
        resource_type=RESOURCE,
        resource_id=policy_id,
        client=client,
        detail=detail,
    )


def _describe(row: CheckinPolicy) -> dict[str, object]:
    # Clinic settings, not patient data: the values themselves may go in the audit row.
    return {
        "appointment_type_id": str(row.appointment_type_id),
        "location_id": str(row.location_id) if row.location_id else None,
        "after_visit_hours": row.after_visit_hours,
        "weekly_in_series": row.weekly_in_series,
    }
