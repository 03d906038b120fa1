"""Argon2id password hashing. Hashing is CPU-bound, so the API runs it in a thread."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from pwdlib import PasswordHash
from starlette.concurrency import run_in_threadpool


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so both cases cost one argon2 run.
    return _hasher().hash("timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Returns (valid, new hash when the parameters are outdated)."""
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False, None
    return _hasher().verify_and_update(password, password_hash)


async def hash_password_async(password: str) -> str:
    return await run_in_threadpool(hash_password, password)


class PasswordChecks:
    """At most ``limit`` sign-in password checks at once in this process; the rest wait.

    Each argon2 run takes tens of milliseconds of a core and 64 MiB: a flood of sign-ins
    queues here (holding no database connection) instead of crowding out every other
    request. One per application, made in ``create_app``.
    """

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        async with self._slots:
            return await run_in_threadpool(verify_password, password, password_hash)
