"""Pooled connections that die (a database restart, a failover, a firewall's idle timeout),
on committed rows in a scratch database: the pool pings only a connection that sat idle, a
connection killed while in use costs one 503 and no more, and a busy pool pings nothing.

The backends are killed with ``pg_terminate_backend``, as a restart would end them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.app import create_app
from services.core.database import Database
from services.core.settings import Settings
from tests.live import asgi_client
from tests.servers import TEMPLATE_DB, Servers

DB = "clinic_test_lost_connections"
TOKEN_URL = "/api/v1/auth/token"
NOBODY = {"username": "nobody@example.org", "password": "not a password"}


@pytest.fixture
def scratch(servers: Servers) -> Iterator[str]:
    url = servers.recreate_database(DB, template=TEMPLATE_DB)
    yield url
    servers.drop_database(DB)


def _kill(servers: Servers, pids: set[int]) -> None:
    with psycopg.connect(servers.libpq_url(), autocommit=True) as connection:
        for pid in pids:
            connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def _pid(database: Database) -> int:
    async with database.session_scope() as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


def _count_pings(database: Database) -> list[None]:
    """One item per ping the pool sends (the real ping still runs)."""
    dialect = database.engine.dialect
    pings: list[None] = []
    ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(None)
        return ping(dbapi_connection)

    dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


async def test_a_connection_that_died_while_idle_is_replaced_before_use(
    scratch: str, servers: Servers
) -> None:
    database = Database.from_url(scratch, pool_size=2, idle_ping_seconds=0)
    try:
        first = await _pid(database)
        pings = _count_pings(database)
        _kill(servers, {first})
        # The ping at checkout finds it dead; the pool lends a new connection instead.
        second = await _pid(database)
        assert second != first
        assert len(pings) == 1
    finally:
        await database.dispose()


async def test_a_connection_killed_in_use_costs_one_503_then_the_pool_recovers(
    scratch: str, servers: Servers, settings: Settings
) -> None:
    database = Database.from_url(scratch, pool_size=3)
    app = create_app(settings.model_copy(update={"database_url": scratch}), database=database)
    try:
        async with asgi_client(app) as client:
            # Three connections in the pool, all recently used: none is pinged.
            async with (
                database.session_scope() as a,
                database.session_scope() as b,
                database.session_scope() as c,
            ):
                pids = {await s.scalar(text("SELECT pg_backend_pid()")) for s in (a, b, c)}
            assert len(pids) == 3
            _kill(servers, {pid for pid in pids if isinstance(pid, int)})
            lost = await client.post(TOKEN_URL, data=NOBODY)
            assert lost.status_code == 503, lost.text
            assert lost.headers["content-type"] == "application/problem+json"
            assert lost.headers["retry-after"] == "1"
            assert "may not have been saved" in lost.json()["detail"]
            # The failure dropped every connection made before it: the other two dead ones
            # are never lent out, so the next requests all succeed.
            for _ in range(3):
                assert (await client.post(TOKEN_URL, data=NOBODY)).status_code == 401
        assert not pids & {await _pid(database) for _ in range(3)}
    finally:
        await database.dispose()


async def test_a_busy_pool_sends_no_ping(scratch: str) -> None:
    database = Database.from_url(scratch, pool_size=1)
    try:
        first = await _pid(database)
        pings = _count_pings(database)
        assert [await _pid(database) for _ in range(5)] == [first] * 5
        assert pings == []
    finally:
        await database.dispose()


async def test_a_failed_statement_is_not_taken_for_a_lost_connection(scratch: str) -> None:
    database = Database.from_url(scratch, pool_size=1)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with database.session_scope() as session:
                await session.execute(text("SELECT 1 / 0"))
        assert not raised.value.connection_invalidated
        assert await _pid(database) > 0  # the connection survived the error
    finally:
        await database.dispose()
