"""``Idempotency-Key``: a double click or a client retry books once.

The key's row is inserted first, in the request's own transaction. A second request with
the same key waits on the unique index until the first commits or rolls back, then reads
the stored answer (or, if the first failed, does the work itself). A key reused with a
different body is a client bug: 422.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, cast

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.appointments.models import IdempotencyKey
from services.core import clock
from services.core.errors import ValidationFailed

KEEP_FOR = timedelta(hours=24)

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID is good); the same key and body answer once.",
    ),
]


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def fingerprint(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, user_id: uuid.UUID, scope: str, key: str, body: BaseModel
) -> Replay | None:
    """None: this request does the work. A ``Replay``: answer with the stored response."""
    digest = fingerprint(body)
    now = clock.utcnow()
    # An expired key is forgotten, so it can be used again.
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= now,
        )
    )
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(
            user_id=user_id, scope=scope, key=key, request_hash=digest, expires_at=now + KEEP_FOR
        )
        .on_conflict_do_nothing(index_elements=["user_id", "scope", "key"])
        .returning(IdempotencyKey.id)
    )
    if inserted is not None:
        return None
    stored = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
    )
    assert stored is not None and stored.response_status is not None
    if stored.request_hash != digest:
        raise ValidationFailed(
            "This Idempotency-Key was used for a different request; use a new key.",
            errors=[
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "already used with another body",
                    "type": "idempotency_key_reused",
                }
            ],
        )
    return Replay(stored.response_status, dict(stored.response_body or {}))


async def remember(
    session: AsyncSession,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    status: int,
    body: BaseModel,
) -> None:
    """Store the answer on the key's row that ``claim`` inserted in this transaction."""
    await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
        .values(response_status=status, response_body=body.model_dump(mode="json"))
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Delete keys past their expiry (housekeeping, sync in a worker). Idempotent."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return cast(CursorResult[Any], result).rowcount
