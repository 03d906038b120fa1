"""The one place that asks what time it is (UTC, timezone-aware).

In development, time can be moved forward to see what waits on it (reminders, check-ins,
late-cancel windows, expiries) without waiting: every process of ``clinic dev`` (API,
worker, beat) reads one shared offset from a file in the data folder (``dev-clock``),
written by ``clinic dev --clock-offset`` and ``POST /api/v1/dev/clock``. Production never
reads it: a process shares the offset only when its settings say development
(``share_offset``), and the settings refuse ``CLINIC_CLOCK_OFFSET`` anywhere else.

The offset only ever grows, so time never runs backwards for a process (a sent reminder
cannot become due again). The database's own ``now()`` (row timestamps it fills) is not
moved.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

FILE_NAME = "dev-clock"
# How long a process keeps the offset it read before reading the file again: an advance
# reaches every process within this time, and the hot paths do not read a file each call.
REREAD_SECONDS = 0.5

_shared: Path | None = None
_read_at = -REREAD_SECONDS
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + offset()


def offset() -> timedelta:
    """The development offset (zero unless this process shares one)."""
    global _read_at, _offset
    if _shared is None:
        return timedelta(0)
    if time.monotonic() - _read_at >= REREAD_SECONDS:
        _offset, _read_at = _read(_shared), time.monotonic()
    return _offset


def share_offset(data_dir: Path | None) -> None:
    """Read the shared offset under ``data_dir`` from now on (None: stop; no offset)."""
    global _shared, _read_at
    _shared = data_dir / FILE_NAME if data_dir is not None else None
    _read_at = -REREAD_SECONDS


def advance(data_dir: Path, by: timedelta) -> timedelta:
    """Move the shared clock forward by ``by`` (not back); answers the new offset."""
    if by < timedelta(0):
        raise ValueError("the development clock only moves forward")
    path = data_dir / FILE_NAME
    with _locked(path):
        moved = _read(path) + by
        scratch = path.with_suffix(".tmp")
        scratch.write_text(f"{moved.total_seconds():.0f}\n")
        os.replace(scratch, path)  # readers see the old offset or the new, never half
    if _shared == path:
        share_offset(data_dir)  # this process sees it at once, others within REREAD
    return moved


def _read(path: Path) -> timedelta:
    try:
        return timedelta(seconds=max(0, int(path.read_text().strip() or 0)))
    except (OSError, ValueError):
        return timedelta(0)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (two advances at once both count)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
