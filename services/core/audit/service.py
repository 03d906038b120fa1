"""Writing and reading the audit trail.

``record`` adds the row to the caller's transaction: a write and its audit row commit or
roll back together. Reads of patient data are recorded the same way, as part of the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Insert, String, Table, Uuid, bindparam, column, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.deps import ClientInfo
from services.core.pagination import PageParams


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None,
    client: ClientInfo | None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor_id,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            client_addr=client.address if client else None,
            request_id=client.request_id if client else None,
            detail=detail or {},
        )
    )


async def record_for_patient(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    patient_id: uuid.UUID | None,
    client: ClientInfo | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A row about a record that belongs to a patient (an appointment, a waitlist entry):
    the patient's id goes in ``detail``, so the patient's whole trail is one filter away.
    ``patient_id`` None: a record no patient is known for yet (a text from an unknown
    number), audited by itself."""
    await record(
        session,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        client=client,
        detail={**_patient(patient_id), **(detail or {})},
    )


def _patient(patient_id: uuid.UUID | None) -> dict[str, str]:
    return {"patient_id": str(patient_id)} if patient_id is not None else {}


def _many_statement() -> Insert:
    """One INSERT ... SELECT for any number of rows: the rows travel as one JSON array, so
    the text is fixed (compiled once, cached) and the database gets one statement and one
    parameter, where an executemany would be a statement per row."""
    row = func.jsonb_array_elements(bindparam("rows", type_=JSONB)).table_valued(
        column("value", JSONB)
    )
    columns = ["actor_id", "action", "resource_type", "client_addr", "request_id"]
    # The table, not the entity: a parameter named ``rows`` is not an attribute to the ORM.
    return insert(cast(Table, AuditEvent.__table__)).from_select(
        [*columns, "resource_id", "detail"],
        select(
            bindparam("actor_id", type_=Uuid),
            *(bindparam(name, type_=String) for name in columns[1:]),
            row.c.value["resource_id"].astext,
            row.c.value["detail"],
        ).select_from(row),
    )


_MANY = _many_statement()


async def record_many(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    client: ClientInfo | None,
    items: Sequence[tuple[uuid.UUID, dict[str, Any]]],
) -> None:
    """The same event about many records, ``(resource_id, detail)`` each (an import, a
    list, a day sheet): one statement, whatever the number of rows."""
    if not items:
        return
    await session.execute(
        _MANY,
        {
            "actor_id": actor_id,
            "action": action,
            "resource_type": resource_type,
            "client_addr": client.address if client else None,
            "request_id": client.request_id if client else None,
            "rows": [
                {"resource_id": str(resource_id), "detail": detail} for resource_id, detail in items
            ],
        },
    )


async def record_many_for_patient(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    rows: Sequence[tuple[uuid.UUID, uuid.UUID | None]],
    client: ClientInfo | None,
) -> None:
    """``record_for_patient`` for many ``(resource_id, patient_id)`` at once (a list or a day
    sheet): one multi-row INSERT instead of one ORM object per row."""
    await record_many(
        session,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        client=client,
        items=[(resource_id, _patient(patient_id)) for resource_id, patient_id in rows],
    )


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    patient_id: uuid.UUID | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


async def list_events(
    session: AsyncSession, where: AuditFilter, page: PageParams
) -> Sequence[AuditEvent]:
    query = select(AuditEvent)
    if where.actor_id is not None:
        query = query.where(AuditEvent.actor_id == where.actor_id)
    if where.resource_type is not None:
        query = query.where(AuditEvent.resource_type == where.resource_type)
    if where.resource_id is not None:
        query = query.where(AuditEvent.resource_id == where.resource_id)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.patient_id is not None:
        # The patient's own record, and every record that names them (expression index).
        patient = str(where.patient_id)
        query = query.where(
            ((AuditEvent.resource_type == "patient") & (AuditEvent.resource_id == patient))
            | (AuditEvent.detail["patient_id"].astext == patient)
        )
    if where.at_from is not None:
        query = query.where(AuditEvent.at >= where.at_from)
    if where.at_to is not None:
        query = query.where(AuditEvent.at < where.at_to)
    query = query.order_by(AuditEvent.id.desc())
    return (await session.scalars(page.apply(query))).all()


class AboutPatient(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def patient_id(self) -> uuid.UUID | None: ...


async def record_listed(
    session: AsyncSession,
    shown: Sequence[AboutPatient],
    *,
    actor_id: uuid.UUID | None,
    resource_type: str,
    client: ClientInfo | None,
) -> None:
    """Each object shown on a page of a list is an audited read of its patient's data."""
    await record_many_for_patient(
        session,
        actor_id=actor_id,
        action="list",
        resource_type=resource_type,
        rows=[(row.id, row.patient_id) for row in shown],
        client=client,
    )


async def record_about(
    session: AsyncSession,
    row: AboutPatient,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    client: ClientInfo | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``record_for_patient`` for a row that names its patient (``row.patient_id``)."""
    await record_for_patient(
        session,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=row.id,
        patient_id=row.patient_id,
        client=client,
        detail=detail,
    )
