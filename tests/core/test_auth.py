from __future__ import annotations

import statistics
import time
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.auth.models import AuthSession
from services.core.auth.roles import Role
from services.core.settings import Settings
from services.core.throttle.models import ThrottleCounter
from services.core.throttle.service import purge_expired
from tests.factories import PASSWORD, Factory
from tests.live import asgi_client

TOKEN_URL = "/api/v1/auth/token"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": email, "password": password})


async def test_login_returns_a_bearer_token_that_works(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    user = await factory.user(Role.front_desk)
    response = await _login(client, user.email, PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["idle_timeout_seconds"] == 30 * 60
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert me.json()["roles"] == ["front_desk"]
    stored = await session.scalar(
        select(AuthSession.token_hash).where(AuthSession.user_id == user.id)
    )
    assert stored is not None and body["access_token"].encode() not in stored


async def test_email_is_case_insensitive(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user(Role.front_desk)
    assert (await _login(client, user.email.upper(), PASSWORD)).status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user(Role.front_desk)
    wrong = await _login(client, user.email, "not the password")
    unknown = await _login(client, "nobody-here@clinic.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_login_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user(Role.front_desk)

    async def seconds(email: str) -> float:
        # The CPU this process spends (argon2 runs in its threads), not the wall clock: the
        # work is what an attacker's timing would reveal, and the other test processes on
        # the same cores stretch the wall clock of one sign-in but not its work (a wall-clock
        # version failed 1.0 s against 0.25 s under a busy moment).
        started = time.process_time()
        await _login(client, email, "wrong password")
        return time.process_time() - started

    samples = [(await seconds(user.email), await seconds("ghost@clinic.example")) for _ in range(3)]
    known = statistics.median(k for k, _ in samples)
    unknown = statistics.median(u for _, u in samples)
    # Both pay one argon2 verification (tens of ms); skipping it would make unknown ~10x cheaper.
    assert 0.5 < unknown / known < 2.0, (known, unknown)


async def _audit_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_repeated_failures_lock_the_account_out_with_429(
    client: httpx.AsyncClient, factory: Factory, settings: Settings, session: AsyncSession
) -> None:
    user = await factory.user(Role.front_desk)
    for _ in range(settings.login_max_failures):
        assert (await _login(client, user.email, "guess")).status_code == 401
    locked = await _login(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= settings.login_lockout_minutes * 60
    # The failures were kept although each request answered 401, and each was audited.
    hits = await session.scalar(
        select(ThrottleCounter.hits).where(ThrottleCounter.key == f"login:email:{user.email}")
    )
    assert hits == settings.login_max_failures + 1  # the refused attempt counts too
    audited = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "login_failed", AuditEvent.resource_id == str(user.id))
    )
    assert audited == settings.login_max_failures


async def test_a_success_clears_the_accounts_count(
    client: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    user = await factory.user(Role.front_desk)
    for _ in range(settings.login_max_failures - 1):
        assert (await _login(client, user.email, "guess")).status_code == 401
    assert (await _login(client, user.email, PASSWORD)).status_code == 200
    for _ in range(settings.login_max_failures):
        assert (await _login(client, user.email, "guess")).status_code == 401


async def test_lockout_ends_when_the_window_has_passed(
    client: httpx.AsyncClient, factory: Factory, settings: Settings, session: AsyncSession
) -> None:
    user = await factory.user(Role.front_desk)
    for _ in range(settings.login_max_failures):
        await _login(client, user.email, "guess")
    assert (await _login(client, user.email, PASSWORD)).status_code == 429
    await session.execute(
        update(ThrottleCounter)
        .where(ThrottleCounter.key == f"login:email:{user.email}")
        .values(window_ends_at=clock.utcnow() - timedelta(seconds=1))
    )
    assert (await _login(client, user.email, PASSWORD)).status_code == 200


async def test_unknown_emails_are_locked_out_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    email = "no-such-person@clinic.example"
    for _ in range(settings.login_max_failures):
        await _login(client, email, "guess")
    assert (await _login(client, email, "guess")).status_code == 429


async def test_unknown_email_failures_leave_no_row_but_a_purgeable_count(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """An attacker can send any number of made-up emails: none may grow an append-only
    table (the audit trail) or any table the housekeeping does not empty."""
    before = await _audit_rows(session)
    for n in range(3):
        assert (await _login(client, f"made-up-{n}@clinic.example", "guess")).status_code == 401
    assert await _audit_rows(session) == before
    keys = select(ThrottleCounter.key).where(ThrottleCounter.key.like("login:email:made-up-%"))
    assert len((await session.scalars(keys)).all()) == 3
    # Nothing is purged while a window is open; everything once it has ended.
    purged_now = await session.run_sync(lambda s: purge_expired(s, clock.utcnow()))
    assert len((await session.scalars(keys)).all()) == 3
    later = clock.utcnow() + timedelta(days=1)
    purged_later = await session.run_sync(lambda s: purge_expired(s, later))
    assert (await session.scalars(keys)).all() == []
    assert purged_later >= 3 + 1 and purged_now == 0  # the three emails and the address


async def test_a_client_address_is_throttled_whichever_emails_it_tries(
    app: FastAPI, factory: Factory, settings: Settings, session: AsyncSession
) -> None:
    """Spraying passwords over many accounts from one address: each account stays under its
    own lockout, the address does not. Successes do not count (a clinic behind one NAT)."""
    limit = settings.login_address_max_failures
    user = await factory.user(Role.front_desk)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://clinic.test") as sprayer:
        for n in range(limit):
            if n % 3 == 0:  # the sprayer's own account signs in now and then
                assert (await _login(sprayer, user.email, PASSWORD)).status_code == 200
            assert (await _login(sprayer, f"target-{n}@clinic.example", "guess")).status_code == 401
        refused = await _login(sprayer, "one-more@clinic.example", "guess")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 0 < int(refused.headers["retry-after"]) <= settings.login_address_window_minutes * 60
        # Refused before any account is looked at: even the right password waits.
        assert (await _login(sprayer, user.email, PASSWORD)).status_code == 429
    async with asgi_client(app) as elsewhere:  # another address is not affected
        assert (await _login(elsewhere, user.email, PASSWORD)).status_code == 200
    hits = await session.scalar(
        select(ThrottleCounter.hits).where(ThrottleCounter.key == "login:addr:203.0.113.7")
    )
    assert hits == limit + 2


async def test_logout_revokes_the_token(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user(Role.chiropractor)
    token = (await _login(client, user.email, PASSWORD)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    after = await client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"


async def test_an_idle_session_expires(
    client: httpx.AsyncClient, factory: Factory, settings: Settings, session: AsyncSession
) -> None:
    staff = await factory.staff(Role.front_desk)
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 200
    idle = timedelta(minutes=settings.session_idle_minutes, seconds=1)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == staff.user.id)
        .values(last_seen_at=clock.utcnow() - idle)
    )
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 401


async def test_activity_keeps_a_session_alive(
    client: httpx.AsyncClient, factory: Factory, settings: Settings, session: AsyncSession
) -> None:
    staff = await factory.staff(Role.front_desk)
    almost_idle = clock.utcnow() - timedelta(minutes=settings.session_idle_minutes - 1)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == staff.user.id)
        .values(last_seen_at=almost_idle)
    )
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 200
    seen = await session.scalar(
        select(AuthSession.last_seen_at).where(AuthSession.user_id == staff.user.id)
    )
    assert seen is not None and seen > almost_idle + timedelta(seconds=30)


async def test_a_session_ends_at_its_absolute_lifetime(
    client: httpx.AsyncClient, factory: Factory, session: AsyncSession
) -> None:
    staff = await factory.staff(Role.front_desk)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == staff.user.id)
        .values(expires_at=clock.utcnow() - timedelta(seconds=1))
    )
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 401


async def test_a_deactivated_user_cannot_sign_in_and_loses_open_sessions(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.staff(Role.admin)
    victim = await factory.staff(Role.front_desk)
    assert (await client.get("/api/v1/me", headers=victim.headers)).status_code == 200
    etag = (await client.get(f"/api/v1/users/{victim.user.id}", headers=admin.headers)).headers[
        "etag"
    ]
    response = await client.patch(
        f"/api/v1/users/{victim.user.id}",
        json={"is_active": False},
        headers={**admin.headers, "If-Match": etag},
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/api/v1/me", headers=victim.headers)).status_code == 401
    assert (await _login(client, victim.user.email, PASSWORD)).status_code == 401


async def test_garbage_and_missing_tokens_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    garbage = await client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert garbage.status_code == 401
    assert garbage.json()["status"] == 401


async def test_login_form_is_validated(client: httpx.AsyncClient) -> None:
    response = await client.post(TOKEN_URL, data={"username": "someone@clinic.example"})
    assert response.status_code == 422
    assert ["body", "password"] in [e["loc"] for e in response.json()["errors"]]
