"""The development clock: one offset every process of `clinic dev` shares, moved forward
only, by an admin, audited; absent outside development and refused in production."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.app import create_app
from services.cli import parse_duration
from services.core import clock, dev_clock
from services.core.audit.models import AuditEvent
from services.core.auth.roles import Role
from services.core.database import Database
from services.core.settings import Environment, Settings, SettingsError
from tests.factories import Factory
from tests.live import asgi_client

CLOCK = "/api/v1/dev/clock"


@pytest.fixture(autouse=True)
def _unshared() -> Iterator[None]:
    """No other test may see this one's offset."""
    yield
    clock.share_offset(None)


@pytest.fixture
def dev_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"env": Environment.development, "data_dir": tmp_path})


@pytest.fixture
async def dev_client(
    dev_settings: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(dev_settings, database=database)) as client:
        yield client


def test_an_advance_reaches_another_process(tmp_path: Path) -> None:
    clock.share_offset(tmp_path)
    before = clock.utcnow()
    assert clock.advance(tmp_path, timedelta(hours=2)) == timedelta(hours=2)
    assert clock.advance(tmp_path, timedelta(minutes=30)) == timedelta(hours=2, minutes=30)
    assert clock.utcnow() - before >= timedelta(hours=2, minutes=30)
    other = subprocess.run(  # a separate interpreter, as the worker and beat are
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from services.core import clock; "
            "clock.share_offset(Path(sys.argv[1])); print(int(clock.offset().total_seconds()))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert other.stdout.strip() == str(int(timedelta(hours=2, minutes=30).total_seconds()))


def test_the_clock_never_moves_back_and_is_real_time_unshared(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="forward"):
        clock.advance(tmp_path, timedelta(minutes=-5))
    clock.advance(tmp_path, timedelta(days=1))
    assert abs(clock.utcnow() - datetime.now(UTC)) < timedelta(seconds=5)  # not shared here


def test_durations_for_clinic_dev() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    for bad in ("", "soon", "-2h", "2x", "0m"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)


def test_production_refuses_to_start_with_a_moved_clock(settings: Settings, tmp_path: Path) -> None:
    production = settings.model_copy(update={"env": Environment.production, "data_dir": tmp_path})
    dev_clock.start(production)  # no file: starts
    clock.advance(tmp_path, timedelta(hours=1))
    with pytest.raises(SettingsError, match="development only"):
        dev_clock.start(production)
    assert clock.offset() == timedelta(0)


async def test_an_admin_moves_the_clock_forward_and_it_is_audited(
    dev_client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    admin = await factory.staff(Role.admin)
    response = await dev_client.post(CLOCK, json={"minutes": 80}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["offset_seconds"] == 80 * 60
    now = datetime.fromisoformat(response.json()["now"])
    assert now - datetime.now(UTC) > timedelta(minutes=79)
    assert clock.utcnow() - datetime.now(UTC) > timedelta(minutes=79)  # this process too
    row = await session.scalar(select(AuditEvent).where(AuditEvent.resource_type == "dev_clock"))
    assert row is not None
    assert row.actor_id == admin.user.id
    assert row.detail == {"minutes": 80}
    # Sessions age on the moved clock too: 80 minutes idle may have ended the first one.
    again = await factory.staff(Role.admin)
    read = await dev_client.get(CLOCK, headers=again.headers)
    assert read.json()["offset_seconds"] == 80 * 60


async def test_only_an_admin_may_and_only_forward(
    dev_client: httpx.AsyncClient, factory: Factory
) -> None:
    desk = await factory.staff(Role.front_desk, Role.chiropractor)
    refused = await dev_client.post(CLOCK, json={"minutes": 5}, headers=desk.headers)
    assert refused.status_code == 403
    admin = await factory.staff(Role.admin)
    for bad in ({"minutes": 0}, {"minutes": -60}, {"minutes": 10**9}, {"hours": 1}):
        answer = await dev_client.post(CLOCK, json=bad, headers=admin.headers)
        assert answer.status_code == 422, bad
    assert clock.offset() == timedelta(0)


async def test_outside_development_there_is_no_clock_route(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    response = await client.post(CLOCK, json={"minutes": 5}, headers=admin.headers)
    assert response.status_code == 404
