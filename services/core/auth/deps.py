"""Authentication and authorisation dependencies every router uses.

Two layers, both required for patient data:
- ``require_roles(...)`` on the route: who may call it at all (the role table in
  docs/architecture.md);
- an object-level check in the service (``access.authorize``): may *this* caller touch
  *this* record. A route that loads a record by id never skips it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from services.core.auth import service
from services.core.auth.roles import Role
from services.core.deps import SessionDep, SettingsDep
from services.core.errors import Forbidden, Unauthorized

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_principal(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> service.Principal:
    if not token:
        raise Unauthorized("Sign in to use this endpoint.")
    return await service.authenticate(session, token, settings)


CurrentPrincipal = Annotated[service.Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[service.Principal]]:
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> service.Principal:
        if not principal.has_any(allowed):
            raise Forbidden("Your role does not allow this.")
        return principal

    return dependency


AdminPrincipal = Annotated[service.Principal, Depends(require_roles(Role.admin))]
ChiropractorPrincipal = Annotated[service.Principal, Depends(require_roles(Role.chiropractor))]
StaffPrincipal = Annotated[
    service.Principal,
    Depends(require_roles(Role.admin, Role.front_desk, Role.chiropractor)),
]
