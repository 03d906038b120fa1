"""Random bearer and link tokens; only their keyed hash is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 bits
# Links in text messages: 128 random bits (22 characters) keep a reminder in one segment.
LINK_TOKEN_BYTES = 16


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str, secret_key: str) -> bytes:
    # Keyed, so a copy of the database alone cannot be used to check guessed tokens.
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).digest()
