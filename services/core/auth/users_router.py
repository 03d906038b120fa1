from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from services.core.auth import users
from services.core.auth.deps import AdminPrincipal
from services.core.auth.roles import Role
from services.core.auth.schemas import UserCreate, UserOut, UserUpdate
from services.core.deps import ClientDep, SessionDep
from services.core.etag import set_etag
from services.core.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Email already used"}},
)
async def create_user(
    body: UserCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
) -> UserOut:
    user = await users.create_user(session, body, actor=admin, client=client)
    set_etag(response, user.version)
    return UserOut.model_validate(user)


@router.get("", response_model=Page[UserOut])
async def list_users(
    admin: AdminPrincipal,
    session: SessionDep,
    page: PageDep,
    role: Role | None = None,
    active: bool | None = None,
) -> Page[UserOut]:
    rows = await users.list_users(session, page, role=role, active=active)
    return Page[UserOut].build([UserOut.model_validate(u) for u in rows], page)


@router.get("/{user_id}", response_model=UserOut, responses={404: {"description": "No user"}})
async def get_user(
    user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, response: Response
) -> UserOut:
    user = await users.get_user(session, user_id)
    set_etag(response, user.version)
    return UserOut.model_validate(user)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    responses={
        403: {"description": "Your own roles or deactivating yourself"},
        404: {"description": "No user"},
        409: {"description": "Would leave no active admin"},
    },
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    client: ClientDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> UserOut:
    """Change name, roles, password or active flag. Deactivating ends the user's sessions.
    An admin cannot change their own roles or deactivate themselves (403): another admin can."""
    user = await users.update_user(
        session,
        user_id,
        body,
        if_match=if_match,
        actor=admin,
        client=client,
    )
    set_etag(response, user.version)
    return UserOut.model_validate(user)
