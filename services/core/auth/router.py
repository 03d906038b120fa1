from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status

from services.core.auth import service
from services.core.auth.deps import CurrentPrincipal
from services.core.auth.passwords import PasswordChecks
from services.core.auth.schemas import TokenOut, UserOut
from services.core.auth.users import get_user
from services.core.deps import ClientDep, SessionDep, SettingsDep, database_of
from services.core.types import NO_NUL

router = APIRouter(prefix="/api/v1", tags=["auth"])

_LOGIN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Wrong email or password"},
    429: {"description": "Too many failed sign-ins for this email or from this address"},
}


@router.post("/auth/token", response_model=TokenOut, responses=_LOGIN_ERRORS)
async def issue_token(
    username: Annotated[str, Form(max_length=320, pattern=NO_NUL, description="Email")],
    password: Annotated[str, Form(max_length=1024, pattern=NO_NUL)],
    request: Request,
    settings: SettingsDep,
    client: ClientDep,
) -> TokenOut:
    """Sign in (OAuth2 password form): email as ``username``; answers a bearer token."""
    # No SessionDep: a request-long transaction would hold a connection through argon2.
    checks: PasswordChecks = request.app.state.password_checks
    issued = await service.login(
        database_of(request),
        checks,
        email=username,
        password=password,
        client=client,
        settings=settings,
    )
    return TokenOut(
        access_token=issued.token,
        expires_at=issued.expires_at,
        idle_timeout_seconds=settings.session_idle_minutes * 60,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: SessionDep, client: ClientDep) -> None:
    """End this session: the token stops working at once."""
    await service.logout(session, principal, client)


@router.get("/me", response_model=UserOut)
async def me(principal: CurrentPrincipal, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await get_user(session, principal.user_id))
