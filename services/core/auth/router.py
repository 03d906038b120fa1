from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from services.core.auth import service
from services.core.auth.deps import CurrentPrincipal
from services.core.auth.schemas import TokenOut, UserOut
from services.core.auth.users import get_user
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.errors import Unauthorized

router = APIRouter(prefix="/api/v1", tags=["auth"])

_AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Not signed in, or the session ended"},
    422: {"description": "Invalid fields"},
    429: {"description": "Locked out after repeated failures"},
}


@router.post("/auth/token", response_model=TokenOut, responses=_AUTH_ERRORS)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> TokenOut:
    """Sign in with email (as ``username``) and password; answers a bearer token."""
    if len(form.password) > 1024:
        raise Unauthorized(service.BAD_CREDENTIALS)
    issued = await service.login(
        session,
        email=form.username,
        password=form.password,
        client=client,
        settings=settings,
    )
    return TokenOut(
        access_token=issued.token,
        expires_at=issued.expires_at,
        idle_timeout_seconds=settings.session_idle_minutes * 60,
    )


@router.post(
    "/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"description": ""}}
)
async def logout(principal: CurrentPrincipal, session: SessionDep, client: ClientDep) -> None:
    """End this session: the token stops working at once."""
    await service.logout(session, principal, client)


@router.get("/me", response_model=UserOut, responses={401: {"description": "Not signed in"}})
async def me(principal: CurrentPrincipal, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await get_user(session, principal.user_id))
