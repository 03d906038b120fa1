"""Check-in alerts under /api/v1/alerts: clinical data, so chiropractors only."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.checkins import alerts
from services.checkins.schemas import AcknowledgeIn, AlertOut, AlertStatus, Severity
from services.core.auth.deps import ChiropractorPrincipal
from services.core.deps import ClientDep, SessionDep
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/alerts", tags=["check-ins"])


@router.get("", response_model=Page[AlertOut])
async def list_alerts(
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
    page: PageDep,
    status: AlertStatus = AlertStatus.open,
    severity: Severity | None = None,
    patient_id: uuid.UUID | None = None,
) -> Page[AlertOut]:
    """Alerts raised by check-in answers, urgent first, then newest; every listed alert is
    audited."""
    rows = await alerts.list_alerts(
        session,
        status=status,
        severity=severity,
        patient_id=patient_id,
        page=page,
        actor=doctor,
        client=client,
    )
    return Page[AlertOut].build([AlertOut.model_validate(a) for a in rows], page)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses={
        404: {"description": "No such alert"},
        409: {"description": "Already acknowledged (names who, and when)"},
    },
)
async def acknowledge_alert(
    alert_id: uuid.UUID,
    body: AcknowledgeIn,
    doctor: ChiropractorPrincipal,
    session: SessionDep,
    client: ClientDep,
) -> AlertOut:
    """Acknowledge the alert with a comment (once; audited without the comment)."""
    alert = await alerts.acknowledge(session, alert_id, body.comment, actor=doctor, client=client)
    return AlertOut.model_validate(alert)
