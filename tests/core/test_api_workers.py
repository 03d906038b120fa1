"""`clinic api --workers N`: several API processes on one port, one set of metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.core.settings import Settings
from tests.conftest import TEST_DB
from tests.live import free_port, wait_until_up
from tests.servers import ROOT, Servers

PROCESSES = 2
READINESS_CHECKS = 20


def _api_processes(parent: psutil.Process) -> list[psutil.Process]:
    # uvicorn starts each worker with multiprocessing's spawn (a fresh interpreter).
    return [p for p in parent.children() if "multiprocessing.spawn" in " ".join(p.cmdline())]


def _served(metrics: str, route: str) -> float:
    pattern = rf'clinic_http_requests_total\{{[^}}]*route="{re.escape(route)}"[^}}]*\}} (\S+)'
    return sum(float(value) for value in re.findall(pattern, metrics))


@pytest.mark.slow
def test_several_api_processes_share_the_port_and_sum_their_metrics(
    servers: Servers, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")} | {
        "CLINIC_ENV": "test",
        "CLINIC_SECRET_KEY": settings.secret_key,
        "CLINIC_DATABASE_URL": servers.url_for(TEST_DB),
        "CLINIC_REDIS_URL": servers.redis_url,
        "CLINIC_DATA_DIR": str(tmp_path),
        "CLINIC_API_WORKERS": str(PROCESSES),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "api", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, timeout=60)
        deadline = time.monotonic() + 30
        while len(_api_processes(psutil.Process(api.pid))) < PROCESSES:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        workers = _api_processes(psutil.Process(api.pid))
        # A new connection each time, so the kernel hands them to whichever process accepts.
        for _ in range(READINESS_CHECKS):
            assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        # Whichever process answers /metrics counts every process's requests.
        for _ in range(PROCESSES * 2):
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            assert _served(metrics, "/readyz") == READINESS_CHECKS, metrics[-2000:]
        assert len(list((tmp_path / "api-metrics").glob("*.db"))) >= PROCESSES
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(30)
    assert api.returncode == 0, log.read_text()[-3000:]
    assert not [w.pid for w in workers if w.is_running() and w.status() != "zombie"]
