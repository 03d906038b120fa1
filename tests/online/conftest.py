"""Online booking fixtures: the scheduling ``clinic`` with its new-patient exam bookable
online and its location taking bookings, and helpers that walk the pages like a phone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.settings import Settings
from services.core.tokens import hash_token
from services.online.codes import code_for
from services.online.models import BookingRequest, OnlineBookingSettings
from tests.appointments.conftest import Clinic, at
from tests.appointments.conftest import clinic as clinic

__all__ = ["clinic"]

PHONE = "+13125550199"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Online:
    clinic: Clinic
    settings: OnlineBookingSettings

    @property
    def location_id(self) -> str:
        return str(self.clinic.location.id)


@pytest.fixture
async def online(clinic: Clinic, session: AsyncSession) -> Online:
    clinic.exam.online_bookable = True
    clinic.exam.online_notice_minutes = 60
    saved = OnlineBookingSettings(location_id=clinic.location.id, enabled=True)
    session.add(saved)
    await session.flush()
    return Online(clinic, saved)


async def hold(
    client: httpx.AsyncClient,
    online: Online,
    hhmm: str = "10:00",
    _headers: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    body = {
        "type_id": str(online.clinic.exam.id),
        "practitioner_id": str(online.clinic.dr_a.id),
        "starts_at": at(online.clinic.monday, hhmm),
        **extra,
    }
    headers = {**FORM, **(_headers or {})}
    return await client.post(f"/book/{online.location_id}/hold", data=body, headers=headers)


async def held(client: httpx.AsyncClient, online: Online, hhmm: str = "10:00") -> str:
    """A hold through the page; answers its token."""
    response = await hold(client, online, hhmm)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/book/r/")
    return location.removeprefix("/book/r/")


def details(**changes: Any) -> dict[str, Any]:
    return {
        "given_name": "Robin",
        "family_name": "Quill",
        "date_of_birth": "1990-07-21",
        "phone": "(312) 555-0199",
        "email": "robin@example.org",
        "channel": "sms",
        "sms_consent": "yes",
        "website": "",
        **changes,
    }


async def give(client: httpx.AsyncClient, token: str, **changes: Any) -> httpx.Response:
    return await client.post(f"/book/r/{token}", data=details(**changes), headers=FORM)


async def request_of(
    session: AsyncSession, settings: Settings, token: str
) -> BookingRequest | None:
    return await session.scalar(
        select(BookingRequest)
        .where(BookingRequest.token_hash == hash_token(token, settings.secret_key))
        .execution_options(populate_existing=True)
    )


async def code(session: AsyncSession, settings: Settings, token: str) -> str:
    """The code the patient was sent (derived as the sender derives it)."""
    request = await request_of(session, settings, token)
    assert request is not None and request.code_nonce is not None
    return code_for(request.code_nonce, settings.secret_key)


async def enter(client: httpx.AsyncClient, token: str, typed: str) -> httpx.Response:
    return await client.post(
        f"/book/r/{token}/code", data={"action": "verify", "code": typed}, headers=FORM
    )
