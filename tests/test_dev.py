"""`clinic dev` (what `make run` runs): serves /readyz, signs the admin in, stops every child
on Ctrl-C, and a second run finds the data again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.servers import ROOT, Servers

ADMIN_EMAIL = "owner@balanced-atlas.example"
ADMIN_PASSWORD = "a long admin passphrase"
DEV_DB = "clinic_test_dev"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dev_env(servers: Servers, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLINIC_")} | {
        "CLINIC_ENV": "development",
        "CLINIC_DATA_DIR": str(tmp_path / "data"),
        "CLINIC_API_PORT": str(_free_port()),
        "CLINIC_ADMIN_EMAIL": ADMIN_EMAIL,
        "CLINIC_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    if not servers.embedded:
        # Configured servers: exercise the "URLs set" path of `clinic dev`.
        env["CLINIC_DATABASE_URL"] = servers.recreate_database(DEV_DB)
        env["CLINIC_MIGRATE_DATABASE_URL"] = servers.owner_url_for(DEV_DB)
        env["CLINIC_REDIS_URL"] = servers.redis_url
    yield env
    if not servers.embedded:
        servers.drop_database(DEV_DB)


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 120:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready in 120 s:\n{log.read_text()[-3000:]}")


def _ctrl_c(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    family = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return family


def _sign_in(base: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        timeout=10,
    )


def test_clinic_dev_runs_everything_and_stops_on_ctrl_c(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{dev_env['CLINIC_API_PORT']}"
    log = tmp_path / "dev.log"
    first = _start(dev_env, log)
    try:
        _wait_ready(base, first, log)
        assert _sign_in(base).status_code == 200
    finally:
        family = _ctrl_c(first)
    assert first.returncode == 0, log.read_text()[-3000:]
    time.sleep(1)
    assert [p.pid for p in family if p.is_running() and p.status() != "zombie"] == []
    output = log.read_text()
    assert "created the first admin" in output
    assert "api" in output and "worker" in output
    # Migrations ran as the owner, and the API, worker and beat passed the start-up check
    # of their login (a superuser or table owner would have been warned about).
    assert "CLINIC_MIGRATE_DATABASE_URL is not set" not in output
    assert "unsafe database login" not in output
    if "starting the embedded PostgreSQL" in output:
        assert "CLINIC_DATABASE_URL=postgresql+psycopg://clinic_app@" in output

    second = _start(dev_env, log)
    try:
        _wait_ready(base, second, log)
        assert _sign_in(base).status_code == 200  # the same admin: the data was kept
    finally:
        _ctrl_c(second)
    assert log.read_text().count("created the first admin") == 1
