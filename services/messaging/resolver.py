"""The one resolver of token links in messages (``/a/``, ``/c/`` and every later page).

The token is the only credential, so the answer about it reveals nothing: an unknown or
malformed token, or one of a link made for another page, is always ``NotFound``; a known
one that no longer works (used, expired, or its subject settled: the caller decides) is
always ``Gone``, with no name, time or clinic.

A caller that acts locks the link here (``lock``) and then its subject, always in that
order, so two requests on one link queue on the link.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Gone, NotFound
from services.core.tokens import hash_token
from services.messaging.models import Message, MessageLink

# Tokens are 22 characters; anything much longer is not ours and is not worth hashing.
MAX_TOKEN_LENGTH = 128
UNKNOWN = "This link is not valid."
GONE = "This link no longer works."


async def resolve(
    session: AsyncSession,
    token: str,
    *,
    kinds: tuple[str, ...],
    secret_key: str,
    now: datetime,
    lock: bool,
) -> tuple[MessageLink, Message]:
    """The link of ``token`` in a message of one of ``kinds``, and that message: the link
    locked when ``lock``. ``NotFound`` or ``Gone`` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound(UNKNOWN)
    query = (
        select(MessageLink, Message)
        .join(Message, Message.id == MessageLink.message_id)
        .where(MessageLink.token_hash == hash_token(token, secret_key), Message.kind.in_(kinds))
    )
    row = (await session.execute(query.with_for_update(of=MessageLink) if lock else query)).first()
    if row is None:
        raise NotFound(UNKNOWN)
    link, message = row
    if link.used_at is not None or now >= link.expires_at:
        raise Gone(GONE)
    return link, message


def use(link: MessageLink, now: datetime, used_for: str) -> None:
    """Use the (locked) link up: it stops working when the caller's transaction commits."""
    link.used_at, link.used_for = now, used_for
