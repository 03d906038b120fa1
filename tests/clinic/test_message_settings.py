from __future__ import annotations

from datetime import time

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic import service
from services.core.auth.roles import Role
from services.core.settings import Settings
from tests.clinic.factories import ClinicFactory
from tests.factories import Factory


def _url(location_id: object) -> str:
    return f"/api/v1/locations/{location_id}/message-settings"


async def test_defaults_until_saved_then_the_saved_values(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    first = await client.get(_url(location.id), headers=admin.headers)
    assert first.status_code == 200
    assert first.json()["reminder_offsets_minutes"] == [2880, 120]
    assert (first.json()["quiet_start"], first.json()["quiet_end"]) == ("21:00", "08:00")
    assert first.json()["is_default"] is True
    assert first.json()["alert_email"] is None
    saved = await client.put(
        _url(location.id),
        json={"reminder_offsets_minutes": [60, 1440, 60], "quiet_start": "20:30"},
        headers=admin.headers,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["reminder_offsets_minutes"] == [1440, 60]
    assert body["quiet_start"] == "20:30" and body["late_cancel_minutes"] == 1440
    assert body["is_default"] is False
    assert body["alert_email"] is None


async def test_alert_email_is_saved_read_back_and_used(
    client: httpx.AsyncClient,
    factory: Factory,
    clinic: ClinicFactory,
    session: AsyncSession,
    settings: Settings,
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    saved = await client.put(
        _url(location.id), json={"alert_email": "alerts@clinic.example"}, headers=admin.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["alert_email"] == "alerts@clinic.example"
    read = await client.get(_url(location.id), headers=admin.headers)
    assert read.json()["alert_email"] == "alerts@clinic.example"
    fallback = settings.model_copy(update={"alert_email": "owner@clinic.example"})
    used = await service.effective_message_settings(session, location.id, fallback)
    assert used.alert_email == "alerts@clinic.example"
    # Left out of a later PUT, it goes back to unset, and the setting applies again.
    cleared = await client.put(_url(location.id), json={}, headers=admin.headers)
    assert cleared.json()["alert_email"] is None
    used = await service.effective_message_settings(session, location.id, fallback)
    assert used.alert_email == "owner@clinic.example"
    too_long = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"
    for bad in ("not an address", "x@", too_long):
        answer = await client.put(
            _url(location.id), json={"alert_email": bad}, headers=admin.headers
        )
        assert answer.status_code == 422, bad
        assert answer.json()["errors"][0]["loc"] == ["body", "alert_email"]


async def test_bad_settings_are_422(
    client: httpx.AsyncClient, factory: Factory, clinic: ClinicFactory
) -> None:
    admin = await factory.staff(Role.admin)
    location = await clinic.location()
    zero = await client.put(
        _url(location.id), json={"reminder_offsets_minutes": [0]}, headers=admin.headers
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["loc"] == ["body", "reminder_offsets_minutes", 0]
    empty_window = await client.put(
        _url(location.id),
        json={"quiet_start": "08:00", "quiet_end": "08:00"},
        headers=admin.headers,
    )
    assert empty_window.status_code == 422


async def test_effective_settings_apply_the_development_overrides(
    session: AsyncSession, clinic: ClinicFactory, settings: Settings
) -> None:
    location = await clinic.location(name="Overrides Clinic")
    plain = await service.effective_message_settings(session, location.id, settings)
    assert plain.reminder_offsets_minutes == (2880, 120)
    assert plain.sender_name == "Overrides Clinic"
    overridden = settings.model_copy(
        update={"reminder_offsets": "2m, 1h", "quiet_hours": "22:15-06:45"}
    )
    found = await service.effective_message_settings(session, location.id, overridden)
    assert found.reminder_offsets_minutes == (60, 2)
    assert (found.quiet_start, found.quiet_end) == (time(22, 15), time(6, 45))
    assert found.time_zone == location.time_zone


def test_override_settings_fail_fast() -> None:
    assert Settings(reminder_offsets="48h,2h,1d", _env_file=None).reminder_offsets_minutes == [
        2880,
        1440,
        120,
    ]
    for bad in ({"reminder_offsets": "soon"}, {"quiet_hours": "9pm-8am"}, {"phone_region": "XX"}):
        with pytest.raises(ValidationError):
            Settings(**bad, _env_file=None)  # type: ignore[arg-type]
