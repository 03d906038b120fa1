"""Login, logout and the per-request check of a bearer token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.core import audit, clock
from services.core.auth.models import AuthSession, User
from services.core.auth.passwords import PasswordChecks
from services.core.auth.roles import Role
from services.core.database import Database
from services.core.deps import ClientInfo
from services.core.errors import TooManyRequests, Unauthorized
from services.core.settings import Settings
from services.core.throttle import service as throttle
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


def _keys(email: str, client: ClientInfo) -> tuple[str, str]:
    """The throttle counters of a sign-in: its client address and the email it names."""
    return f"login:addr:{client.address or '-'}", f"login:email:{email.lower()}"


async def _hit(database: Database, key: str, limit: int, minutes: int) -> throttle.Hit:
    return await throttle.hit_alone(
        database, key, limit=limit, window=timedelta(minutes=minutes), now=clock.utcnow()
    )


@dataclass(frozen=True)
class _Account:
    id: uuid.UUID
    password_hash: str
    is_active: bool


async def _account(session: AsyncSession, email: str) -> _Account | None:
    row = (
        await session.execute(
            select(User.id, User.password_hash, User.is_active).where(User.email == email)
        )
    ).one_or_none()
    return _Account(*row) if row else None


async def _open_session(
    session: AsyncSession,
    account: _Account,
    new_hash: str | None,
    *,
    client: ClientInfo,
    settings: Settings,
    email_key: str,
) -> IssuedToken | None:
    """The session for a checked password, unless the account changed while it was hashed
    (deactivated, or a new password: the lock waits for such an update to commit)."""
    unchanged = await session.scalar(
        select(User.id)
        .where(
            User.id == account.id,
            User.is_active.is_(True),
            User.password_hash == account.password_hash,
        )
        .with_for_update()
    )
    if unchanged is None:
        return None
    if new_hash is not None:
        await session.execute(
            update(User).where(User.id == account.id).values(password_hash=new_hash)
        )
    now = clock.utcnow()
    await throttle.clear(session, email_key)
    token = new_token()
    expires_at = now + timedelta(hours=settings.session_max_hours)
    session.add(
        AuthSession(
            user_id=account.id,
            token_hash=hash_token(token, settings.secret_key),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            client_addr=client.address,
        )
    )
    await audit.record(
        session,
        actor_id=account.id,
        action="login",
        resource_type="user",
        resource_id=account.id,
        client=client,
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def login(
    database: Database,
    checks: PasswordChecks,
    *,
    email: str,
    password: str,
    client: ClientInfo,
    settings: Settings,
) -> IssuedToken:
    """Sign in, in short transactions around the password check, which holds no database
    connection: a flood of sign-ins queues for ``checks`` and leaves the pool to everyone
    else.

    A failure stays counted (the reserved hits are kept). A success clears the email's count
    and takes back its hit on the address (that throttle counts failures). A real account's
    failure is audited; an unknown email's is only counted, in a row the housekeeping task
    deletes.
    """
    email = email.strip()
    address_key, email_key = _keys(email, client)
    # Each attempt is counted before any hashing, so parallel attempts cannot all pass a
    # check that none of them has counted in yet. The address first: once it is refused,
    # the emails it tries are not counted any more.
    for key, limit, minutes in (
        (address_key, settings.login_address_max_failures, settings.login_address_window_minutes),
        (email_key, settings.login_max_failures, settings.login_lockout_minutes),
    ):
        hit = await _hit(database, key, limit, minutes)
        if not hit.allowed:
            raise TooManyRequests(
                "Too many failed sign-in attempts. Try again later.", retry_after=hit.retry_after
            )
    async with database.session_scope() as session:
        account = await _account(session, email)
    # Same work whether or not the address exists: one argon2 verification either way.
    valid, new_hash = await checks.verify(password, account.password_hash if account else None)
    issued = None
    async with database.session_scope() as session:
        if account is not None and valid and account.is_active:
            issued = await _open_session(
                session, account, new_hash, client=client, settings=settings, email_key=email_key
            )
        if issued is None and account is not None:
            await audit.record(
                session,
                actor_id=None,
                action="login_failed",
                resource_type="user",
                resource_id=account.id,
                client=client,
            )
    if issued is None:
        raise Unauthorized(BAD_CREDENTIALS)
    async with database.session_scope() as session:  # the hot row again: by itself
        await throttle.forgive(session, address_key, now=clock.utcnow())
    return issued


# Every authenticated request runs it: built once, as constructing a statement costs more
# Python than running a cached one.
_SESSION_OF_TOKEN = (
    select(AuthSession, User)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.token_hash == bindparam("token_hash"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        AuthSession.last_seen_at > bindparam("idle_cutoff"),
        User.is_active.is_(True),
    )
)


async def authenticate(session: AsyncSession, token: str, settings: Settings) -> Principal:
    now = clock.utcnow()
    idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
    params = {
        "token_hash": hash_token(token, settings.secret_key),
        "now": now,
        "idle_cutoff": idle_cutoff,
    }
    row = (await session.execute(_SESSION_OF_TOKEN, params)).one_or_none()
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


# Ended sessions are kept a while so a security review can still see them.
KEEP_ENDED_SESSIONS = timedelta(days=30)


def purge_ended_sessions(session: Session, now: datetime) -> int:
    """Delete sessions that expired or were revoked over ``KEEP_ENDED_SESSIONS`` ago
    (housekeeping, sync in a worker). Idempotent."""
    cutoff = now - KEEP_ENDED_SESSIONS
    result = session.execute(
        delete(AuthSession).where(
            or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff)
        )
    )
    return cast(CursorResult[Any], result).rowcount
