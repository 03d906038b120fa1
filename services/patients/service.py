"""Patient records: register, find, read, change, archive. Every access is audited.

Object-level rule (DESIGN.md roles): front desk, chiropractors and admins all read and
write demographics; ``may_access`` is where a narrower rule (e.g. per location) would go.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.service import Location, default_location, get_location
from services.core import audit, clock
from services.core.auth.access import load_authorized
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.deps import ClientInfo
from services.core.errors import Conflict, ValidationFailed
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams
from services.patients import consents
from services.patients.models import Patient as Patient  # read by other domains
from services.patients.schemas import (
    Address,
    ConsentIn,
    ConsentState,
    PatientCreate,
    PatientFields,
    PatientOut,
    PatientUpdate,
)
from services.patients.search import is_name_search, parse_terms, search_statement

RESOURCE = "patient"
PATIENT_ROLES = frozenset({Role.front_desk, Role.chiropractor, Role.admin})
# Same date of birth and a name at least this similar (pg_trgm, 0..1): a likely duplicate.
DUPLICATE_NAME_SIMILARITY = 0.5


async def _audit(
    session: AsyncSession,
    actor: Principal,
    client: ClientInfo,
    action: str,
    patient_id: uuid.UUID,
    detail: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor_id=actor.user_id,
        action=action,
        resource_type=RESOURCE,
        resource_id=patient_id,
        client=client,
        detail=detail,
    )


def may_access(principal: Principal, _: Patient) -> bool:
    return principal.has_any(PATIENT_ROLES)


def to_out(patient: Patient, consent: ConsentState) -> PatientOut:
    return PatientOut(
        id=patient.id,
        chart_number=patient.chart_number,
        given_name=patient.given_name,
        family_name=patient.family_name,
        preferred_name=patient.preferred_name,
        date_of_birth=patient.date_of_birth,
        sex=patient.sex,
        phone=patient.phone,
        email=patient.email,
        address=Address(
            line1=patient.address_line1,
            line2=patient.address_line2,
            city=patient.city,
            region=patient.region,
            postal_code=patient.postal_code,
            country=patient.country,
        ),
        preferred_channel=patient.preferred_channel,
        consent=consent,
        time_zone=patient.time_zone,
        home_location_id=patient.home_location_id,
        emergency_contact_name=patient.emergency_contact_name,
        emergency_contact_phone=patient.emergency_contact_phone,
        tags=patient.tags,
        front_desk_note=patient.front_desk_note,
        status=patient.status,
        archived_at=patient.archived_at,
        created_at=patient.created_at,
        updated_at=patient.updated_at,
    )


def _column_values(data: PatientFields, fields: set[str]) -> dict[str, Any]:
    """Request fields to column values (nested address and emergency contact flattened)."""
    values: dict[str, Any] = {}
    for field in fields:
        value = getattr(data, field)
        if field == "address":
            # Only the parts sent change; ``address: null`` clears all of them.
            address = value or Address()
            parts = address.model_fields_set if value is not None else set(Address.model_fields)
            for part in parts:
                values[f"address_{part}" if part.startswith("line") else part] = getattr(
                    address, part
                )
        elif field == "emergency_contact":
            values["emergency_contact_name"] = value.name if value else None
            values["emergency_contact_phone"] = value.phone if value else None
        elif field == "tags":
            values["tags"] = sorted(set(value or []))
        else:
            values[field] = value
    return values


async def _home_location(session: AsyncSession, data: PatientCreate) -> Location | None:
    """The location named (404 if unknown), else the clinic's default one, if any."""
    if data.home_location_id is not None:
        return await get_location(session, data.home_location_id)
    return await default_location(session)


def _time_zone(data: PatientCreate, home: Location | None) -> str:
    if data.time_zone:
        return data.time_zone
    if home is None:
        raise ValidationFailed(
            "Give the patient a time zone: there is no clinic location to take it from.",
            errors=[{"loc": ["body", "time_zone"], "msg": "required", "type": "missing"}],
        )
    return home.time_zone


async def find_duplicates(session: AsyncSession, data: PatientCreate) -> Sequence[Patient]:
    name = func.clinic_unaccent(func.lower(literal(f"{data.given_name} {data.family_name}")))
    matches: list[ColumnElement[bool]] = [
        (Patient.date_of_birth == data.date_of_birth)
        & (func.similarity(Patient.search_name, name) >= literal(DUPLICATE_NAME_SIMILARITY, Float))
    ]
    if data.phone:
        matches.append(Patient.phone == data.phone)
    if data.email:
        matches.append(Patient.email == data.email)
    query = select(Patient).where(or_(*matches)).order_by(Patient.created_at).limit(10)
    return (await session.scalars(query)).all()


async def create_patient(
    session: AsyncSession, data: PatientCreate, *, actor: Principal, client: ClientInfo
) -> Patient:
    home = await _home_location(session, data)
    if not data.allow_duplicate:
        candidates = await find_duplicates(session, data)
        if candidates:
            # Showing the candidates is a read of their records: audited, and kept
            # although the request answers 409.
            for candidate in candidates:
                await _audit(session, actor, client, "duplicate_check", candidate.id)
            raise Conflict(
                "This may be a patient who is already registered. Check the candidates; "
                "send allow_duplicate=true if this is a different person.",
                keep_changes=True,
                candidates=[_candidate(p) for p in candidates],
            )
    fields = set(PatientFields.model_fields) | {"given_name", "family_name", "date_of_birth"}
    values = _column_values(data, fields)
    values["time_zone"] = _time_zone(data, home)
    values["home_location_id"] = home.id if home else None
    patient = Patient(**values, created_by=actor.user_id)
    session.add(patient)
    await session.flush()
    for order, consent in enumerate(data.consents):
        session.add(consents.new_consent(patient.id, consent, actor.user_id, order=order))
    await session.flush()
    await session.refresh(patient)
    await _audit(
        session, actor, client, "create", patient.id, {"duplicate_override": data.allow_duplicate}
    )
    return patient


def _candidate(patient: Patient) -> dict[str, object]:
    return {
        "id": str(patient.id),
        "chart_number": patient.chart_number,
        "name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": patient.date_of_birth.isoformat(),
    }


async def get_patient(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    actor: Principal,
    client: ClientInfo,
    for_update: bool = False,
    action: str = "read",
) -> Patient:
    patient = await load_authorized(
        session, Patient, patient_id, actor, may_access, for_update=for_update
    )
    if action:
        await _audit(session, actor, client, action, patient.id)
    return patient


async def update_patient(
    session: AsyncSession,
    patient_id: uuid.UUID,
    data: PatientUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> Patient:
    patient = await get_patient(
        session, patient_id, actor=actor, client=client, for_update=True, action=""
    )
    check_version(patient.version, expected_version(if_match))
    changed = data.model_fields_set
    for required in ("given_name", "family_name", "date_of_birth", "preferred_channel"):
        if required in changed and getattr(data, required) is None:
            raise ValidationFailed(
                f"{required} cannot be cleared.",
                errors=[{"loc": ["body", required], "msg": "cannot be null", "type": "required"}],
            )
    if "time_zone" in changed and data.time_zone is None:
        raise ValidationFailed(
            "time_zone cannot be cleared.",
            errors=[{"loc": ["body", "time_zone"], "msg": "cannot be null", "type": "required"}],
        )
    if "home_location_id" in changed and data.home_location_id is not None:
        await get_location(session, data.home_location_id)
    for column, value in _column_values(data, set(changed)).items():
        setattr(patient, column, value)
    patient.updated_at = clock.utcnow()
    await session.flush()
    await session.refresh(patient)
    await _audit(session, actor, client, "update", patient.id, {"fields": sorted(changed)})
    return patient


async def set_archived(
    session: AsyncSession,
    patient_id: uuid.UUID,
    archived: bool,
    *,
    actor: Principal,
    client: ClientInfo,
) -> Patient:
    patient = await get_patient(
        session, patient_id, actor=actor, client=client, for_update=True, action=""
    )
    target = "archived" if archived else "active"
    if patient.status == target:
        raise Conflict(f"The patient is already {target}.")
    patient.status = target
    patient.archived_at = clock.utcnow() if archived else None
    patient.updated_at = clock.utcnow()
    await session.flush()
    await session.refresh(patient)
    await _audit(session, actor, client, "archive" if archived else "restore", patient.id)
    return patient


async def search_patients(
    session: AsyncSession,
    q: str | None,
    *,
    status: str | None,
    page: PageParams,
    region: str,
    actor: Principal,
    client: ClientInfo,
) -> Sequence[Patient]:
    if q and q.strip():
        terms = parse_terms(q, region)
        if is_name_search(terms):
            # Always the KNN index scan, even on a small table where the planner would
            # rather sort: the scan's order is stable, so equally near names ("maria")
            # page without repeats or gaps whatever the page size.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
        query = search_statement(terms, status=status, page=page)
        rows: Sequence[Patient] = (await session.scalars(query)).all()
    else:
        listing = select(Patient).order_by(Patient.family_name, Patient.given_name, Patient.id)
        if status is not None:
            listing = listing.where(Patient.status == status)
        rows = (await session.scalars(page.apply(listing))).all()
    # A search result is a read of each record shown.
    for patient in rows[: page.limit]:
        await _audit(session, actor, client, "list", patient.id)
    return rows


async def record_consent(
    session: AsyncSession,
    patient_id: uuid.UUID,
    consent: ConsentIn,
    *,
    actor: Principal,
    client: ClientInfo,
) -> None:
    patient = await get_patient(session, patient_id, actor=actor, client=client, action="")
    session.add(consents.new_consent(patient.id, consent, actor.user_id))
    await session.flush()
    await _audit(
        session,
        actor,
        client,
        "consent",
        patient.id,
        {"channel": consent.channel, "granted": consent.granted},
    )
