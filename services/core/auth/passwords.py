"""Argon2id password hashing. Hashing is CPU-bound, so the API runs it in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
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


# Sign-in checks run at this niceness (Linux), so argon2 takes the CPU nobody else wants.
CHECK_NICENESS = 10


def _lower_priority() -> None:
    # Per thread on Linux; argon2's lane threads (one per unit of parallelism, four) are
    # created by this thread and inherit it. Elsewhere the call fails and nothing changes.
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, max(current, CHECK_NICENESS))


@lru_cache
def _check_threads(workers: int) -> ThreadPoolExecutor:
    """Process-wide threads for sign-in checks, apart from the shared thread pool (whose
    threads must keep their normal priority)."""
    return ThreadPoolExecutor(
        workers, thread_name_prefix="password-check", initializer=_lower_priority
    )


class PasswordChecks:
    """At most ``limit`` sign-in password checks at once in this process; the rest wait.

    Each argon2 run takes four threads, 64 MiB and hundreds of milliseconds of CPU: a flood
    of sign-ins queues here (holding no database connection) instead of crowding out every
    other request, and the checks run at a lower CPU priority than the event loop. One per
    application, made in ``create_app``.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots = asyncio.Semaphore(limit)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                _check_threads(self._limit), verify_password, password, password_hash
            )
