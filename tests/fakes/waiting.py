"""Waiting, in a test, for a fake server to have received enough."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def wait_for_count(
    lock: threading.Condition, received: Sequence[T], count: int, timeout: float, what: str
) -> list[T]:
    """Block until ``received`` (guarded by ``lock``, notified on each arrival) holds at
    least ``count`` items; raises ``TimeoutError`` naming ``what`` arrived so far."""
    deadline = time.monotonic() + timeout
    with lock:
        while len(received) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(received)} of {count} {what} arrived")
            lock.wait(left)
        return list(received)
