"""The first admin on an empty database (the demo clinic is ``services/demo.py``)."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.auth.roles import Role
from services.core.auth.schemas import UserCreate
from services.core.auth.users import count_users, create_user
from services.core.settings import Settings

DEFAULT_ADMIN_EMAIL = "admin@example.com"


def generate_password() -> str:
    return secrets.token_urlsafe(15)


async def create_first_admin(session: AsyncSession, settings: Settings) -> tuple[str, str] | None:
    """On an empty database: the first admin. Returns (email, password) when generated."""
    if await count_users(session) > 0:
        return None
    email = settings.admin_email or DEFAULT_ADMIN_EMAIL
    password = settings.admin_password or generate_password()
    await create_user(
        session,
        UserCreate(email=email, full_name="Clinic admin", password=password, roles=[Role.admin]),
        actor=None,
        client=None,
    )
    return email, password
