from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response, status

from services.core.auth.deps import require_roles
from services.core.auth.service import Principal
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep
from services.core.types import NO_NUL
from services.patients import consents, service
from services.patients.models import Patient
from services.patients.schemas import (
    ConsentIn,
    ConsentOut,
    PatientCreate,
    PatientOut,
    PatientSummary,
    PatientUpdate,
)

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

PatientStaff = Annotated[Principal, Depends(require_roles(*service.PATIENT_ROLES))]
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No such patient"}}


async def _out(session: SessionDep, patient: Patient) -> PatientOut:
    state = (await consents.current(session, [patient.id]))[patient.id]
    return service.to_out(patient, state)


@router.get("", response_model=Page[PatientSummary])
async def search_patients(
    staff: PatientStaff,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=NO_NUL,
            description="Name (typos, accents tolerated), phone, email, birth date, chart number",
        ),
    ] = None,
    status_filter: Annotated[
        Literal["active", "archived"] | None, Query(alias="status")
    ] = "active",
) -> Page[PatientSummary]:
    """Find patients, best match first. Every patient listed is an audited read."""
    rows = await service.search_patients(
        session,
        q,
        status=status_filter,
        page=page,
        region=settings.phone_region,
        actor=staff,
        client=client,
    )
    return Page[PatientSummary].build([PatientSummary.model_validate(p) for p in rows], page)


@router.post(
    "",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "The home location named does not exist"},
        409: {"description": "A possible duplicate exists; candidates are listed"},
    },
)
async def create_patient(
    body: PatientCreate,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> PatientOut:
    patient = await service.create_patient(session, body, actor=staff, client=client)
    set_etag(response, patient.version)
    return await _out(session, patient)


@router.get("/{patient_id}", response_model=PatientOut, responses=_NOT_FOUND)
async def get_patient(
    patient_id: uuid.UUID,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> PatientOut:
    patient = await service.get_patient(session, patient_id, actor=staff, client=client)
    set_etag(response, patient.version)
    return await _out(session, patient)


@router.patch(
    "/{patient_id}",
    response_model=PatientOut,
    responses={
        **_NOT_FOUND,
    },
)
async def update_patient(
    patient_id: uuid.UUID,
    body: PatientUpdate,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PatientOut:
    """Change the fields sent (``null`` clears an optional one); needs ``If-Match``."""
    patient = await service.update_patient(
        session, patient_id, body, if_match=if_match, actor=staff, client=client
    )
    set_etag(response, patient.version)
    return await _out(session, patient)


@router.post(
    "/{patient_id}/archive",
    response_model=PatientOut,
    responses={**_NOT_FOUND, 409: {"description": "Already archived"}},
)
async def archive_patient(
    patient_id: uuid.UUID,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> PatientOut:
    """Archive instead of delete: the record stays, search hides it by default."""
    patient = await service.set_archived(session, patient_id, True, actor=staff, client=client)
    set_etag(response, patient.version)
    return await _out(session, patient)


@router.post(
    "/{patient_id}/restore",
    response_model=PatientOut,
    responses={**_NOT_FOUND, 409: {"description": "Not archived"}},
)
async def restore_patient(
    patient_id: uuid.UUID,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> PatientOut:
    patient = await service.set_archived(session, patient_id, False, actor=staff, client=client)
    set_etag(response, patient.version)
    return await _out(session, patient)


@router.get("/{patient_id}/consents", response_model=list[ConsentOut], responses=_NOT_FOUND)
async def consent_history(
    patient_id: uuid.UUID, staff: PatientStaff, session: SessionDep, client: ClientDep
) -> list[ConsentOut]:
    """Every consent decision, newest first (kept, never overwritten)."""
    patient = await service.get_patient(session, patient_id, actor=staff, client=client)
    return [ConsentOut.model_validate(c) for c in await consents.history(session, patient.id)]


@router.post(
    "/{patient_id}/consents",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    responses=_NOT_FOUND,
)
async def record_consent(
    patient_id: uuid.UUID,
    body: ConsentIn,
    staff: PatientStaff,
    session: SessionDep,
    client: ClientDep,
) -> PatientOut:
    """Record that the patient gave or withdrew consent for a channel, and how."""
    await service.record_consent(session, patient_id, body, actor=staff, client=client)
    patient = await service.get_patient(session, patient_id, actor=staff, client=client, action="")
    return await _out(session, patient)
