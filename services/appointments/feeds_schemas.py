"""API shapes of calendar feeds. The token appears once, in the answer to the create call."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.core.types import required_text

Label = Annotated[str, *required_text(100)]


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label | None = Field(default=None, description='Where it is used, e.g. "Phone"')


class FeedCreated(BaseModel):
    id: uuid.UUID
    label: str | None
    url: str = Field(
        description="The secret feed address, relative to the API's origin. Shown only now: "
        "only a hash of its token is kept."
    )
    created_at: datetime


class FeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
