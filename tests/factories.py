"""Small factories. Users get a password hash computed once per run (argon2 is slow by
design) and sessions are created directly, so only the auth tests pay for real logins."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.auth.models import AuthSession, User
from services.core.auth.passwords import hash_password
from services.core.auth.roles import Role
from services.core.settings import Settings
from services.core.tokens import hash_token, new_token

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@lru_cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Staff:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def user(
        self, *roles: Role, email: str | None = None, active: bool = True, name: str | None = None
    ) -> User:
        n = next(_counter)
        user = User(
            email=email or f"staff{n}-{uuid.uuid4().hex[:8]}@clinic.example",
            full_name=name or f"Staff Member {n}",
            password_hash=password_hash(),
            roles=sorted(r.value for r in (roles or (Role.front_desk,))),
            is_active=active,
        )
        self.session.add(user)
        await self.session.flush()
        await self.session.refresh(user)
        return user

    async def token_for(self, user: User) -> str:
        token = new_token()
        now = clock.utcnow()
        self.session.add(
            AuthSession(
                user_id=user.id,
                token_hash=hash_token(token, self.settings.secret_key),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=self.settings.session_max_hours),
            )
        )
        await self.session.flush()
        return token

    async def staff(self, *roles: Role) -> Staff:
        user = await self.user(*roles)
        return Staff(user=user, token=await self.token_for(user))
