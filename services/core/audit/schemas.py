from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str | None
    client_addr: str | None
    request_id: str | None
    detail: dict[str, Any]
