"""The ``clinic`` command: run, migrate and administer the backend."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from sqlalchemy.ext.asyncio import AsyncSession

from services import demo, wiring
from services.core import bootstrap, clock, db_roles
from services.core.auth.roles import Role
from services.core.auth.schemas import UserCreate
from services.core.database import Database, libpq
from services.core.settings import Environment, Settings, get_settings

app = typer.Typer(help="Clinic practice management backend.", no_args_is_help=True)


def _say(message: str) -> None:
    typer.echo(f"[clinic] {message}", err=True)


def _alembic_ini() -> Path:
    for candidate in (
        Path.cwd() / "alembic.ini",
        Path(__file__).resolve().parents[1] / "alembic.ini",
    ):
        if candidate.exists():
            return candidate
    raise typer.BadParameter("alembic.ini not found: run from the project folder")


def run_migrations(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(_alembic_ini()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def migrate_as_owner(settings: Settings) -> None:
    """Migrate as the tables' owner; first make sure the app's login exists and is in
    ``clinic_app`` (created when the owner may create roles, as in docker-compose)."""
    assert settings.database_url and settings.migration_url
    if settings.migrate_database_url is None:
        _say(
            "WARNING: CLINIC_MIGRATE_DATABASE_URL is not set, so migrations run as the app's "
            "own login, which then owns every table and could switch the database's "
            "guarantees off; outside development the API, worker and beat refuse to start"
        )
    else:
        app_login = db_roles.Login.of(settings.database_url)
        if app_login != db_roles.Login.of(settings.migration_url):
            with psycopg.connect(libpq(settings.migration_url), autocommit=True) as connection:
                db_roles.ensure_app_login(connection, app_login)
    run_migrations(settings.migration_url)


_DURATION = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``26h``, ``2d``, ``1d12h``: a positive span of whole minutes or more."""
    parts = _DURATION.findall(text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise typer.BadParameter(f"{text!r} is not a duration like 90m, 26h or 2d")
    span = sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in parts), timedelta(0))
    if span <= timedelta(0):
        raise typer.BadParameter("the clock only moves forward")
    return span


@asynccontextmanager
async def _unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction for a CLI command, on a short-lived engine."""
    if not settings.database_url:
        raise typer.BadParameter("set CLINIC_DATABASE_URL")
    database = Database.from_url(
        settings.database_url, null_pool=True, events=wiring.events(settings)
    )
    try:
        async with database.session_scope() as session:
            yield session
    finally:
        await database.dispose()


async def _bootstrap(settings: Settings, *, seed: bool) -> None:
    async with _unit_of_work(settings) as session:
        created = await bootstrap.create_first_admin(session, settings)
        if created is None:
            return
        email, password = created
        if settings.admin_password:
            _say(f"created the first admin {email} (password from CLINIC_ADMIN_PASSWORD)")
        else:
            _say(f"created the first admin {email} with password: {password}")
            _say("this password is shown once; change it after signing in")
        if seed:
            demo_password = bootstrap.generate_password()
            seeded = await demo.seed_demo(session, demo_password)
            _say(f"seeded the demo clinic: {seeded.summary()}")
            if seeded.staff:
                _say(f"the demo staff's password: {demo_password}")


@app.command()
def migrate(
    bootstrap_admin: Annotated[
        bool, typer.Option(help="On an empty database, create the first admin")
    ] = True,
) -> None:
    """Apply database migrations (alembic upgrade head); then the first admin if none."""
    settings = get_settings()
    if not settings.database_url:
        raise typer.BadParameter("set CLINIC_DATABASE_URL")
    migrate_as_owner(settings)
    if bootstrap_admin:
        asyncio.run(_bootstrap(settings, seed=False))


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[list[Role], typer.Option(help="Repeat for several roles")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a staff user."""
    from services.core.auth.users import create_user as create

    data = UserCreate(email=email, full_name=name, password=password, roles=role)

    async def run() -> None:
        async with _unit_of_work(get_settings()) as session:
            await create(session, data, actor=None, client=None)

    asyncio.run(run())
    _say(f"created {email}")


@app.command("seed-demo")
def seed_demo() -> None:
    """Add whatever is missing of the demo clinic; prints the new staff's shared password."""

    async def run() -> None:
        async with _unit_of_work(get_settings()) as session:
            password = bootstrap.generate_password()
            seeded = await demo.seed_demo(session, password)
        _say(f"seeded: {seeded.summary()}")
        if seeded.staff:
            _say(f"the demo staff's password: {password}")

    asyncio.run(run())


@app.command("import-patients")
def import_patients(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    time_zone: Annotated[
        str | None, typer.Option(help="For rows without one (default: the clinic's zone)")
    ] = None,
) -> None:
    """Import patients from a CSV file; prints every rejected row. Safe to re-run."""
    from services.patients.cli_import import run_import

    report = asyncio.run(run_import(get_settings(), file, time_zone, _unit_of_work))
    _say(
        f"imported {report.imported}, already present {report.already_present}, "
        f"rejected {report.rejected_rows} rows"
    )
    if report.rejected:
        raise typer.Exit(code=1)


@app.command()
def api(
    host: str | None = None,
    port: int | None = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="API processes (CLINIC_API_WORKERS)")
    ] = None,
) -> None:
    """Run the HTTP API (uvicorn), in one process or several sharing the port."""
    import uvicorn

    settings = get_settings()
    processes = workers or settings.api_workers
    if processes > 1:
        _share_metrics(settings.data_dir)
    uvicorn.run(
        "services.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=processes,
        access_log=False,
        # The app reads X-Forwarded-* itself, from CLINIC_TRUSTED_PROXIES (services/app.py):
        # uvicorn's rewrite would hide the socket peer that X-Request-ID trust is judged by.
        proxy_headers=False,
    )


def _share_metrics(data_dir: Path) -> None:
    """Several API processes: each keeps its request metrics in files of one folder that
    every process sums for ``/metrics``. Its files are removed at start: the counts are
    this run's (prometheus_client's rule for the folder)."""
    from services.core.health import MULTIPROCESS_DIR

    folder = Path(os.environ.get(MULTIPROCESS_DIR) or data_dir / "api-metrics").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROCESS_DIR] = str(folder)  # the processes uvicorn starts inherit it


@app.command()
def worker(concurrency: int = 2) -> None:
    """Run a Celery worker."""
    _celery("worker", "--loglevel", "INFO", "--concurrency", str(concurrency))


@app.command()
def beat() -> None:
    """Run Celery beat: the message dispatcher, the reaper and housekeeping."""
    _celery("beat", "--loglevel", "INFO")


def _celery(*arguments: str) -> None:
    """Become Celery (same process id, so ``clinic dev`` and signals reach it) running the
    Celery app: ``services`` never imports ``workers``, it runs it."""
    command = [sys.executable, "-m", "celery", "--app", "workers.app:celery_app", *arguments]
    os.execv(sys.executable, command)  # noqa: S606 (our own interpreter, fixed arguments)


@app.command()
def dev(
    seed: Annotated[bool, typer.Option(help="Seed the demo clinic on an empty database")] = True,
    clock_offset: Annotated[
        str | None,
        typer.Option(
            help="Move the shared development clock forward by this much first "
            "(e.g. 90m, 26h, 2d); it stays moved until .clinic/dev-clock is deleted"
        ),
    ] = None,
) -> None:
    """Run everything: API, worker and beat; embedded PostgreSQL/Redis when no URL is set."""
    from services.core import embedded

    settings = get_settings()
    if clock_offset is not None:
        if settings.env is not Environment.development:
            raise typer.BadParameter("--clock-offset is for development only")
        moved = clock.advance(settings.data_dir, parse_duration(clock_offset))
        _say(f"the clock of every process is {moved} ahead (POST /api/v1/dev/clock moves it)")
    database_url, redis_url = settings.database_url, settings.redis_url
    migrate_url = settings.migrate_database_url
    stops: list[Callable[[], None]] = []
    try:
        if not database_url:
            _say(f"starting the embedded PostgreSQL under {settings.data_dir}/postgres")
            postgres = embedded.start_postgres(settings.data_dir)
            stops.append(postgres.stop)
            database_url, migrate_url = postgres.url(), postgres.url(user=embedded.OWNER)
            _say(f"CLINIC_DATABASE_URL={database_url}")
            _say(f"CLINIC_MIGRATE_DATABASE_URL={migrate_url}")
        if not redis_url:
            _say(f"starting the embedded Redis under {settings.data_dir}/redis")
            redis = embedded.start_redis(settings.data_dir)
            stops.append(redis.stop)
            redis_url = redis.url
            _say(f"CLINIC_REDIS_URL={redis_url}")
        resolved = settings.model_copy(
            update={
                "database_url": database_url,
                "migrate_database_url": migrate_url,
                "redis_url": redis_url,
            }
        )
        _say("applying migrations")
        migrate_as_owner(resolved)
        asyncio.run(_bootstrap(resolved, seed=seed and settings.seed_demo))
        env = {**os.environ, "CLINIC_DATABASE_URL": database_url, "CLINIC_REDIS_URL": redis_url}
        if migrate_url:
            env["CLINIC_MIGRATE_DATABASE_URL"] = migrate_url
        _supervise(env, resolved)
    finally:
        for stop in reversed(stops):
            stop()
        _say("stopped")


def _supervise(env: dict[str, str], settings: Settings) -> None:
    """Run API, worker and beat as children; any of them exiting, or Ctrl-C, stops all."""
    python = sys.executable
    commands = {
        "api": [python, "-m", "services.cli", "api"],
        "worker": [python, "-m", "services.cli", "worker"],
        "beat": [python, "-m", "services.cli", "beat"],
    }
    children = {
        name: subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
        for name, command in commands.items()
    }
    _say(f"API on http://{settings.api_host}:{settings.api_port} — Ctrl-C stops everything")
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stopping:
            exited = [name for name, child in children.items() if child.poll() is not None]
            if exited:
                _say(f"{', '.join(exited)} exited; stopping the rest")
                break
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    app()
