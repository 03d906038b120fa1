"""The worker process's database engine (sync, created once per process).

Two pooled connections serve any number of concurrent sends: a send holds one only for its
two short steps, never while it waits on the SMTP server or SMS provider (``sending.py``).
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from services.core.database import create_sync_engine
from services.core.settings import SettingsError, get_settings


@lru_cache
def engine() -> Engine:
    settings = get_settings()
    if not settings.database_url:
        raise SettingsError("CLINIC_DATABASE_URL must be set for workers")
    return create_sync_engine(settings.database_url, pool_size=2)
