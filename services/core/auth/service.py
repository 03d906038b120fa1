"""Login, logout and the per-request check of a bearer token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit, clock
from services.core.auth.models import AuthSession, LoginFailure, User
from services.core.auth.passwords import verify_password_async
from services.core.auth.roles import Role
from services.core.deps import ClientInfo
from services.core.errors import TooManyRequests, Unauthorized
from services.core.settings import Settings
from services.core.tokens import hash_token, new_token

# last_seen_at is written at most this often, so a burst of requests is not a burst of UPDATEs.
TOUCH_INTERVAL = timedelta(seconds=30)

BAD_CREDENTIALS = "Incorrect email or password."


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and the session the token belongs to."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    full_name: str
    roles: frozenset[Role]

    def has_any(self, roles: frozenset[Role]) -> bool:
        return not self.roles.isdisjoint(roles)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


async def _raise_if_locked_out(session: AsyncSession, email: str, settings: Settings) -> None:
    window_start = clock.utcnow() - timedelta(minutes=settings.login_lockout_minutes)
    failures, oldest = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.email == email, LoginFailure.at > window_start
            )
        )
    ).one()
    if failures >= settings.login_max_failures:
        unlock_at = oldest + timedelta(minutes=settings.login_lockout_minutes)
        retry_after = max(1, int((unlock_at - clock.utcnow()).total_seconds()) + 1)
        raise TooManyRequests(
            "Too many failed sign-in attempts. Try again later.", retry_after=retry_after
        )


async def _record_failure(
    session: AsyncSession, email: str, user_id: uuid.UUID | None, client: ClientInfo
) -> None:
    session.add(LoginFailure(email=email, at=clock.utcnow(), client_addr=client.address))
    await audit.record(
        session,
        actor_id=None,
        action="login_failed",
        resource_type="user",
        resource_id=user_id,
        client=client,
    )


async def login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client: ClientInfo,
    settings: Settings,
) -> IssuedToken:
    email = email.strip()
    await _raise_if_locked_out(session, email, settings)
    user = await session.scalar(select(User).where(User.email == email))
    # Same work whether or not the address exists: one argon2 verification either way.
    valid, new_hash = await verify_password_async(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        await _record_failure(session, email, user.id if user else None, client)
        # keep_changes: the failure must count toward the lockout and stay audited.
        raise Unauthorized(BAD_CREDENTIALS, keep_changes=True)
    if new_hash is not None:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    now = clock.utcnow()
    token = new_token()
    expires_at = now + timedelta(hours=settings.session_max_hours)
    session.add(
        AuthSession(
            user_id=user.id,
            token_hash=hash_token(token, settings.secret_key),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            client_addr=client.address,
        )
    )
    await audit.record(
        session,
        actor_id=user.id,
        action="login",
        resource_type="user",
        resource_id=user.id,
        client=client,
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def authenticate(session: AsyncSession, token: str, settings: Settings) -> Principal:
    now = clock.utcnow()
    idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
    row = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(
                AuthSession.token_hash == hash_token(token, settings.secret_key),
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.last_seen_at > idle_cutoff,
                User.is_active.is_(True),
            )
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized("The session has expired or is not valid. Sign in again.")
    auth_session, user = row
    if now - auth_session.last_seen_at > TOUCH_INTERVAL:
        await session.execute(
            update(AuthSession).where(AuthSession.id == auth_session.id).values(last_seen_at=now)
        )
    return Principal(
        user_id=user.id,
        session_id=auth_session.id,
        email=user.email,
        full_name=user.full_name,
        roles=frozenset(Role(r) for r in user.roles),
    )


async def logout(session: AsyncSession, principal: Principal, client: ClientInfo) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == principal.session_id)
        .values(revoked_at=clock.utcnow())
    )
    await audit.record(
        session,
        actor_id=principal.user_id,
        action="logout",
        resource_type="user",
        resource_id=principal.user_id,
        client=client,
    )


async def revoke_all_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.utcnow())
    )
