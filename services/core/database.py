"""Engines and sessions: async for the API, sync for workers and the CLI.

One request is one transaction: ``session_scope`` commits when the request succeeds and
rolls back when it raises. Services ``flush()`` when they need ids and never commit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event, exc, func
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool, Pool

from services.core.errors import AppError
from services.core.events import INFO_KEY, Events

# Constraint names are predictable, so migrations can refer to them and errors can be mapped.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A pooled connection unused this long is pinged before it is lent out: idle connections are
# the ones a database restart, a failover or a firewall's idle timeout leaves dead. A busy
# pool's connections are never idle this long, so a busy request pays no ping (the pool's
# ``pre_ping`` pays one round trip on every checkout, i.e. on every request). A connection
# that dies while in use fails its statement once: SQLAlchemy then drops every connection
# the pool made before it, and the request answers 503 (``errors._database_lost``).
# The pool lends its most recently returned connection first (``pool_use_lifo``): a quiet
# clinic's few requests keep one connection warm instead of cycling through all ten, each
# idle long enough to need the ping.
IDLE_PING_SECONDS = 30.0
_RETURNED_AT = "clinic_returned_at"


def ping_idle_connections(pool: Pool, dialect: Dialect, idle_seconds: float) -> None:
    """Ping a connection at checkout only if it sat in the pool for ``idle_seconds``."""

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def lent(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_RETURNED_AT, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool drops this and every older connection, then lends a new one.
                raise exc.InvalidatePoolError() from error
            raise

    event.listen(pool, "checkin", returned)
    event.listen(pool, "checkout", lent)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def now_column() -> Mapped[datetime]:
    """A ``timestamptz`` the database fills with the transaction's time (created_at, …)."""
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def sql_list(values: tuple[str, ...]) -> str:
    """``('a', 'b')`` for a CHECK constraint's ``IN`` list (fixed literals from code only)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq(url: str) -> str:
    """The same URL for psycopg itself (``postgresql://``, no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """The async engine of one API process, and its session factory."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        *,
        events: Events | None = None,
    ) -> None:
        """``events``: the subscriptions every session of this database announces to
        (``core/events.py``); None: attached later (``create_app`` wires the database it
        serves), and until then announcing raises ``NotWired``."""
        self.engine = engine
        self.sessionmaker = sessionmaker or async_sessionmaker(engine, expire_on_commit=False)
        if events is not None:
            self.announce_to(events)

    def announce_to(self, events: Events) -> None:
        """Sessions made from now on announce to ``events`` (the composition root's)."""
        self.sessionmaker.configure(info={INFO_KEY: events})

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        null_pool: bool = False,
        events: Events | None = None,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> Database:
        options: dict[str, Any] = (
            {"poolclass": NullPool}
            if null_pool
            else {"pool_size": pool_size, "pool_use_lifo": True}
        )
        engine = create_async_engine(normalise_url(url), **options)
        if not null_pool:
            ping_idle_connections(engine.sync_engine.pool, engine.dialect, idle_ping_seconds)
        return cls(engine, events=events)

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error.

        An ``AppError`` with ``keep_changes`` (a failed login, which must count toward the
        lockout and stay in the audit trail) commits what was written before it was raised.
        """
        async with self.sessionmaker() as session:
            await session.begin()
            try:
                yield session
            except AppError as error:
                await (session.commit() if error.keep_changes else session.rollback())
                raise
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_sync_engine(
    url: str, *, idle_ping_seconds: float = IDLE_PING_SECONDS, **options: Any
) -> Engine:
    if "poolclass" not in options:  # a NullPool has no order to choose
        options = {"pool_use_lifo": True, **options}
    engine = create_engine(normalise_url(url), **options)
    ping_idle_connections(engine.pool, engine.dialect, idle_ping_seconds)
    return engine


@contextmanager
def sync_session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work for a Celery task or a CLI command."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
