"""Check-in policies under /api/v1/checkin-policies: clinic settings, so admins only."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from services.checkins import policies
from services.checkins.schemas import EffectivePolicyOut, PolicyIn, PolicyOut
from services.core.auth.deps import AdminPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/checkin-policies", tags=["check-ins"])

_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such appointment type or location"}
}


@router.get("", response_model=Page[PolicyOut])
async def list_policies(
    admin: AdminPrincipal,
    session: SessionDep,
    page: PageDep,
    appointment_type_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
) -> Page[PolicyOut]:
    """Saved policies by appointment type; a type without a row gets the default."""
    rows = await policies.list_policies(
        session, page, appointment_type_id=appointment_type_id, location_id=location_id
    )
    return Page[PolicyOut].build([PolicyOut.model_validate(r) for r in rows], page)


@router.get("/effective", response_model=EffectivePolicyOut, responses=_UNKNOWN)
async def effective_policy(
    appointment_type_id: uuid.UUID,
    location_id: uuid.UUID,
    admin: AdminPrincipal,
    session: SessionDep,
) -> EffectivePolicyOut:
    """What a visit of the type at the location gets: the location's row, else the type's
    every-location row, else the default (24 h after every visit; weekly in a care plan)."""
    return await policies.effective_policy(session, appointment_type_id, location_id)


@router.put("", response_model=PolicyOut, responses=_UNKNOWN)
async def put_policy(
    body: PolicyIn, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> PolicyOut:
    """Create or replace the policy of (appointment type, location); audited."""
    row = await policies.put_policy(session, body, actor=admin, client=client)
    return PolicyOut.model_validate(row)


# ":uuid": only an id matches, so DELETE /effective is a 405 (GET only), not a 422 for a
# malformed policy_id.
@router.delete(
    "/{policy_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such policy"}},
)
async def delete_policy(
    policy_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, client: ClientDep
) -> None:
    """Remove a saved policy: the next one down applies again; audited."""
    await policies.delete_policy(session, policy_id, actor=admin, client=client)
