"""Random bearer and link tokens; only their keyed hash is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str, secret_key: str) -> bytes:
    # Keyed, so a copy of the database alone cannot be used to check guessed tokens.
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).digest()
