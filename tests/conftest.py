"""Fixtures: real PostgreSQL and Redis, one migrated database, a rolled-back transaction
per test, an HTTP client on the real app, and small factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import email_validator
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from services import wiring
from services.app import create_app
from services.core.database import Database
from services.core.settings import Environment, Settings
from tests.factories import Factory
from tests.fakes.smtp import FakeSmtpServer
from tests.live import asgi_client
from tests.servers import TEMPLATE_DB, Servers, migrate, start_test_servers

# As every process of the product does at start (tests call the sender directly too).
wiring.register_kinds()

# email-validator's switch for test suites: accept the special-use "test" domain, which
# schemathesis generates for `format: email` and which no clinic uses for real.
email_validator.TEST_ENVIRONMENT = True

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
TEST_DB = "clinic_test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist (``--dist loadgroup``) the slow tests share one group, so they run one
    after another on one worker, never two at once: they kill workers, flush Redis, stall
    SMTP servers and time things, and each would disturb another's measurements."""
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("slow"))


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    running = start_test_servers()
    try:
        running.recreate_database(TEMPLATE_DB)
        migrate(running.owner_url_for(TEMPLATE_DB))
        running.recreate_database(TEST_DB, template=TEMPLATE_DB)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def settings(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env=Environment.test,
        secret_key=TEST_SECRET,
        database_url=servers.url_for(TEST_DB),
        redis_url=servers.redis_url,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        log_json=True,
        _env_file=None,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction per test, rolled back at the end: nothing a test writes survives it."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
async def owner_session(servers: Servers) -> AsyncIterator[AsyncSession]:
    """The tables' owner (as migrations run), in a transaction rolled back at the end: for
    proving that a trigger or constraint holds even for a login with every privilege."""
    engine = create_async_engine(servers.owner_url_for(TEST_DB), poolclass=NullPool)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
        await transaction.rollback()
    await engine.dispose()


@pytest.fixture
def database(engine: AsyncEngine, connection: AsyncConnection, settings: Settings) -> Database:
    # Each request's transaction becomes a savepoint inside the test's transaction. Its
    # sessions announce to the production wiring (a test that builds its own Database wires
    # it too, or attaches an empty Events() to run with no subscriber).
    return Database(
        engine,
        async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ),
        events=wiring.events(settings),
    )


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """For arranging data and checking results directly in the database."""
    async with database.sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database=database)


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    """A mail server of this test's own on 127.0.0.1 (a module may share one instead)."""
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
def factory(session: AsyncSession, settings: Settings) -> Factory:
    return Factory(session, settings)
