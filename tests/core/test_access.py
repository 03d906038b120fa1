"""The object-level authorisation pattern later domains reuse (services/core/auth/access.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.auth.access import authorize, load_authorized
from services.core.auth.models import User
from services.core.auth.roles import Role
from services.core.auth.service import Principal
from services.core.errors import Forbidden, NotFound
from tests.factories import Factory


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        session_id=uuid.uuid4(),
        email=user.email,
        full_name=user.full_name,
        roles=frozenset(Role(r) for r in user.roles),
    )


def may_read_user(principal: Principal, user: User) -> bool:
    """An example predicate: admins read anyone, others only themselves."""
    return Role.admin in principal.roles or principal.user_id == user.id


async def test_a_record_is_loaded_only_for_callers_the_predicate_admits(
    factory: Factory, session: AsyncSession
) -> None:
    admin = _principal(await factory.user(Role.admin))
    chiro_user = await factory.user(Role.chiropractor)
    chiro = _principal(chiro_user)
    other = await factory.user(Role.front_desk)

    loaded = await load_authorized(session, User, other.id, admin, may_read_user)
    assert loaded.id == other.id
    assert (await load_authorized(session, User, chiro_user.id, chiro, may_read_user)) is chiro_user
    with pytest.raises(Forbidden):
        await load_authorized(session, User, other.id, chiro, may_read_user)
    with pytest.raises(Forbidden):
        authorize(chiro, other, may_read_user)


async def test_a_missing_record_is_404_before_any_predicate(
    factory: Factory, session: AsyncSession
) -> None:
    admin = _principal(await factory.user(Role.admin))

    def never(_: Principal, __: User) -> bool:
        raise AssertionError("must not be asked about a record that does not exist")

    with pytest.raises(NotFound):
        await load_authorized(session, User, uuid.uuid4(), admin, never)
