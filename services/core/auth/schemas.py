from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.core.auth.roles import Role
from services.core.types import NO_NUL, required_text

FullName = Annotated[str, *required_text(200)]
# Long passphrases welcome; the cap only stops a hashing denial of service.
Password = Annotated[str, StringConstraints(min_length=12, max_length=128, pattern=NO_NUL)]
RoleSet = Annotated[list[Role], Field(min_length=1, max_length=3)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    idle_timeout_seconds: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str  # validated on the way in; never re-validated on the way out
    full_name: str
    roles: list[Role]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    full_name: FullName
    password: Password
    roles: RoleSet


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    password: Password | None = None
    roles: RoleSet | None = None
    is_active: bool | None = None
