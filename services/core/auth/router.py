from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, status

from services.core.auth import service
from services.core.auth.deps import CurrentPrincipal
from services.core.auth.schemas import TokenOut, UserOut
from services.core.auth.users import get_user
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.types import NO_NUL

router = APIRouter(prefix="/api/v1", tags=["auth"])

_LOGIN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Wrong email or password"},
    429: {"description": "Locked out after repeated failures"},
}


@router.post("/auth/token", response_model=TokenOut, responses=_LOGIN_ERRORS)
async def issue_token(
    username: Annotated[str, Form(max_length=320, pattern=NO_NUL, description="Email")],
    password: Annotated[str, Form(max_length=1024, pattern=NO_NUL)],
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> TokenOut:
    """Sign in (OAuth2 password form): email as ``username``; answers a bearer token."""
    issued = await service.login(
        session,
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
