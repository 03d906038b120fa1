"""Sign-ins at the same time, each request on its own connection against committed rows:
the lockout count is atomic, argon2 runs without a database connection, and no more
password checks run at once than ``CLINIC_LOGIN_HASH_CONCURRENCY``.

The password check is wrapped to count its calls and to hold it open; the argon2 run inside
is the real one."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.core.audit.models import AuditEvent
from services.core.auth import passwords
from services.core.auth.roles import Role
from services.core.database import Database
from services.core.settings import Settings
from tests.factories import PASSWORD, Factory, Staff
from tests.live import committed_client
from tests.servers import TEMPLATE_DB, Servers

pytestmark = pytest.mark.slow

DB = "clinic_login_concurrency"
TOKEN_URL = "/api/v1/auth/token"
PARALLEL = 40


class CheckSpy:
    """Stands in for ``passwords.verify_password``: counts the calls and how many overlap,
    runs ``before`` first (in the hashing thread), then the real argon2 check."""

    def __init__(self, before: Callable[[], None] = lambda: None) -> None:
        self.real = passwords.verify_password
        self.before = before
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.before()
            return self.real(password, password_hash)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CheckSpy]:
    def install(before: Callable[[], None] = lambda: None) -> CheckSpy:
        installed = CheckSpy(before)
        monkeypatch.setattr(passwords, "verify_password", installed)
        return installed

    return install


@pytest.fixture(scope="module")
def url(servers: Servers) -> Iterator[str]:
    yield servers.recreate_database(DB, template=TEMPLATE_DB)
    servers.drop_database(DB)


@dataclass
class Live:
    client: httpx.AsyncClient
    database: Database
    settings: Settings


@asynccontextmanager
async def live_app(
    settings: Settings, url: str, *, pool: dict[str, Any], **overrides: Any
) -> AsyncIterator[Live]:
    # Every request from the test client comes from one address: keep that throttle out of
    # the way unless a test is about it.
    changed = settings.model_copy(update={"login_address_max_failures": 10_000, **overrides})
    database = Database(create_async_engine(url, **pool))
    try:
        async with committed_client(changed, url, database) as client:
            yield Live(client, database, changed)
    finally:
        await database.dispose()


async def _staff(live: Live) -> Staff:
    async with live.database.sessionmaker() as session:
        staff = await Factory(session, live.settings).staff(Role.front_desk)
        await session.commit()
    return staff


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": email, "password": password})


async def test_parallel_wrong_passwords_get_at_most_max_failures_checks(
    settings: Settings, url: str, spy: Callable[..., CheckSpy]
) -> None:
    async with live_app(settings, url, pool={"pool_size": 10, "max_overflow": 10}) as live:
        user = (await _staff(live)).user
        checks = spy()
        responses = await asyncio.gather(
            *(_login(live.client, user.email, f"wrong guess {n}") for n in range(PARALLEL))
        )
        limit = settings.login_max_failures
        # Each attempt is counted before it is checked: exactly `limit` reach argon2.
        assert checks.calls == limit
        assert Counter(r.status_code for r in responses) == {401: limit, 429: PARALLEL - limit}
        refused = [r for r in responses if r.status_code == 429]
        assert all(int(r.headers["retry-after"]) > 0 for r in refused)
        assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
        async with live.database.sessionmaker() as session:
            audited = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "login_failed", AuditEvent.resource_id == str(user.id))
            )
        assert audited == limit


async def test_a_signed_in_request_is_served_while_a_sign_in_is_hashing(
    settings: Settings, url: str, spy: Callable[..., CheckSpy]
) -> None:
    """One connection in the pool: were it held through argon2, /me would wait for it."""
    started, release = threading.Event(), threading.Event()

    def hold_open() -> None:
        started.set()
        release.wait(30)

    pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 20}
    async with live_app(settings, url, pool=pool) as live:
        signing_in, reading = await _staff(live), await _staff(live)
        checks = spy(hold_open)
        login = asyncio.create_task(_login(live.client, signing_in.user.email, PASSWORD))
        try:
            deadline = time.monotonic() + 10
            while not started.is_set():
                assert time.monotonic() < deadline, "the sign-in never reached its check"
                await asyncio.sleep(0.01)
            me = await asyncio.wait_for(
                live.client.get("/api/v1/me", headers=reading.headers), timeout=5
            )
            assert me.status_code == 200
            assert checks.running == 1  # the sign-in was still hashing all along
        finally:
            release.set()
        assert (await login).status_code == 200


async def test_password_checks_are_bounded_and_the_rest_queue(
    settings: Settings, url: str, spy: Callable[..., CheckSpy]
) -> None:
    async with live_app(
        settings, url, pool={"pool_size": 10, "max_overflow": 10}, login_hash_concurrency=2
    ) as live:
        niceness: list[int] = []

        def slow_and_observed() -> None:
            niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            time.sleep(0.2)  # long enough that unbounded checks overlap

        checks = spy(slow_and_observed)
        responses = await asyncio.gather(
            *(_login(live.client, f"flood-{n}@clinic.example", "guess") for n in range(6))
        )
        assert [r.status_code for r in responses] == [401] * 6
        assert checks.calls == 6
        assert checks.most_at_once == 2
        # Below the event loop's priority (Linux), so a flood leaves it the CPU it needs.
        assert len(niceness) == 6
        assert all(n >= passwords.CHECK_NICENESS for n in niceness)
