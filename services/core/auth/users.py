"""Staff user management (admin only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit, clock
from services.core.auth.models import User
from services.core.auth.passwords import hash_password_async
from services.core.auth.roles import Role
from services.core.auth.schemas import UserCreate, UserUpdate
from services.core.auth.service import Principal, revoke_all_sessions
from services.core.deps import ClientInfo
from services.core.errors import Conflict, Forbidden, NotFound
from services.core.etag import check_version, expected_version
from services.core.pagination import PageParams


async def create_user(
    session: AsyncSession, data: UserCreate, *, actor: Principal | None, client: ClientInfo | None
) -> User:
    if await session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise Conflict("A user with this email already exists.")
    user = User(
        email=data.email,
        full_name=data.full_name,
        password_hash=await hash_password_async(data.password),
        roles=sorted({r.value for r in data.roles}),
    )
    session.add(user)
    await session.flush()
    await session.refresh(user)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="create",
        resource_type="user",
        resource_id=user.id,
        client=client,
        detail={"roles": user.roles},
    )
    return user


async def list_users(
    session: AsyncSession, page: PageParams, *, role: Role | None, active: bool | None
) -> Sequence[User]:
    query = select(User)
    if role is not None:
        query = query.where(User.roles.contains([role.value]))
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return (await session.scalars(page.apply(query.order_by(User.full_name, User.id)))).all()


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=for_update)
    if user is None:
        raise NotFound("No user with this id.")
    return user


async def _ensure_an_admin_remains(session: AsyncSession, user: User) -> None:
    # Lock every active admin row so two admins demoting each other cannot both succeed.
    admins = (
        await session.scalars(
            select(User.id)
            .where(User.is_active.is_(True), User.roles.contains([Role.admin.value]))
            .with_for_update()
        )
    ).all()
    if set(admins) <= {user.id}:
        raise Conflict("This is the last active admin; make someone else admin first.")


async def update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    data: UserUpdate,
    *,
    if_match: str | None,
    actor: Principal,
    client: ClientInfo,
) -> User:
    user = await get_user(session, user_id, for_update=True)
    check_version(user.version, expected_version(if_match))
    changes = data.model_dump(exclude_unset=True)
    roles_before = sorted(user.roles)
    roles_after = sorted({r.value for r in data.roles}) if data.roles is not None else roles_before
    if user.id == actor.user_id and (roles_after != roles_before or data.is_active is False):
        # Another admin can; on a one-admin clinic, `clinic create-user` on the server.
        raise Forbidden("You cannot change your own roles or deactivate yourself.")
    was_admin = Role.admin.value in user.roles and user.is_active
    if "full_name" in changes and data.full_name is not None:
        user.full_name = data.full_name
    user.roles = roles_after
    if "is_active" in changes and data.is_active is not None:
        user.is_active = data.is_active
    if "password" in changes and data.password is not None:
        user.password_hash = await hash_password_async(data.password)
    still_admin = Role.admin.value in user.roles and user.is_active
    if was_admin and not still_admin:
        await _ensure_an_admin_remains(session, user)
    if not user.is_active or "password" in changes:
        # Deactivation and a password change end every open session of that user.
        await revoke_all_sessions(session, user.id)
    user.updated_at = clock.utcnow()
    await session.flush()
    detail: dict[str, object] = {"fields": sorted(changes)}
    if roles_after != roles_before:
        detail |= {"roles_before": roles_before, "roles_after": roles_after}
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="deactivate" if changes.get("is_active") is False else "update",
        resource_type="user",
        resource_id=user.id,
        client=client,
        detail=detail,
    )
    return user


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
