from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import Location
from services.core.auth.roles import Role
from tests.factories import Factory, Staff

PATIENTS = "/api/v1/patients"

NewPatient = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def location(session: AsyncSession) -> Location:
    location = Location(name="The Balanced Atlas (test)", time_zone="America/Chicago")
    session.add(location)
    await session.flush()
    return location


@pytest.fixture
async def desk(factory: Factory, location: Location) -> Staff:
    return await factory.staff(Role.front_desk)


def patient_body(**overrides: Any) -> dict[str, Any]:
    return {
        "given_name": "Jordan",
        "family_name": "Lee",
        "date_of_birth": "1987-03-14",
        "phone": "(312) 555-0142",
        "email": "jordan.lee@mail.example",
        "preferred_channel": "sms",
        "tags": ["Fibromyalgia", "migraine"],
        "consents": [{"channel": "sms", "granted": True, "method": "phone"}],
        **overrides,
    }


@pytest.fixture
def new_patient(client: httpx.AsyncClient, desk: Staff) -> NewPatient:
    async def create(**overrides: Any) -> dict[str, Any]:
        response = await client.post(PATIENTS, json=patient_body(**overrides), headers=desk.headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create
