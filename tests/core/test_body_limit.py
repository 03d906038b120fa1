"""Bodies are limited before anything reads them (services/core/body_limit.py).

In process, the ASGI client pulls a streamed body from the test's generator only when the
app asks for the next chunk, so the bytes the generator gave are the bytes the app read.
On a live uvicorn, the API process's memory is measured while 100 MB uploads arrive at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi import FastAPI

from services.app import create_app
from services.core.database import Database
from services.core.settings import Settings
from tests.live import asgi_client, free_port, wait_until_up

LIMIT = 1_048_576  # the default CLINIC_MAX_BODY_BYTES
CHUNK = 65_536
HUNDRED_MB = 100_000_000


class Upload:
    """A body of ``size`` bytes in chunks, counting what was taken from it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0

    def _next(self) -> bytes | None:
        if self.taken >= self.size:
            return None
        chunk = b"x" * min(CHUNK, self.size - self.taken)
        self.taken += len(chunk)
        return chunk

    async def streamed(self) -> AsyncIterator[bytes]:
        """For the in-process (async) client."""
        while (chunk := self._next()) is not None:
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:200]
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/content-too-large")
    assert body["status"] == 413
    assert str(LIMIT) in body["detail"]
    assert response.headers["connection"] == "close"


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient,
) -> None:
    upload = Upload(HUNDRED_MB)
    response = await client.post(
        "/api/v1/patients",
        content=upload.streamed(),
        headers={"Content-Length": str(HUNDRED_MB), "Content-Type": "application/json"},
    )
    _assert_413(response)
    assert upload.taken == 0
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_chunked_body_is_cut_at_the_limit(client: httpx.AsyncClient) -> None:
    upload = Upload(HUNDRED_MB)
    response = await client.post(
        "/api/v1/patients", content=upload.streamed(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    _assert_413(response)
    assert LIMIT < upload.taken <= LIMIT + CHUNK


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    upload = Upload(LIMIT)
    response = await client.post(
        "/api/v1/patients", content=upload.streamed(), headers={"Content-Type": "application/json"}
    )
    assert upload.taken == LIMIT
    assert response.status_code == 422  # read whole, and parsed: it is not JSON


async def test_the_limit_is_a_setting(settings: Settings, database: Database) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 4096}), database=database)
    async with asgi_client(app) as client:
        small = await client.post("/api/v1/auth/token", content=b"x" * 4096)
        large = await client.post("/api/v1/auth/token", content=b"x" * 4097)
    assert small.status_code == 422
    assert large.status_code == 413
    assert "4096" in large.json()["detail"]


async def test_the_patient_pages_keep_their_smaller_limit(client: httpx.AsyncClient) -> None:
    """1 KiB for the confirm/cancel form: over that it is the page's own 422, not a 413."""
    response = await client.post(
        "/a/not-a-real-token-but-long-enough-to-look-up",
        content="action=confirm&pad=" + "x" * 4000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")


def test_every_operation_with_a_body_documents_the_413(app: FastAPI) -> None:
    operations = [
        operation
        for path_item in app.openapi()["paths"].values()
        for operation in path_item.values()
        if "requestBody" in operation
    ]
    assert len(operations) > 20
    for operation in operations:
        content = operation["responses"]["413"]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }


@contextmanager
def clinic_api(settings: Settings, work_dir: Path) -> Iterator[tuple[str, psutil.Process]]:
    """``clinic api`` in a process of its own on a free 127.0.0.1 port."""
    assert settings.database_url and settings.redis_url
    port = free_port()
    env = {
        **os.environ,
        "CLINIC_ENV": "test",
        "CLINIC_SECRET_KEY": settings.secret_key,
        "CLINIC_DATABASE_URL": settings.database_url,
        "CLINIC_REDIS_URL": settings.redis_url,
        "CLINIC_DATA_DIR": str(work_dir),
        "CLINIC_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "services.cli", "api", "--host", "127.0.0.1"]
    server = subprocess.Popen([*command, "--port", str(port)], env=env, cwd=work_dir)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(base_url, timeout=90)  # a fresh interpreter imports the whole app
        yield base_url, psutil.Process(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class PeakRss:
    """The process's largest resident set size while the block runs (sampled every 5 ms)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _post(base_url: str, upload: Upload, declared: bool) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(upload.size)
    with httpx.Client(timeout=60) as client:
        return client.post(f"{base_url}/api/v1/patients", content=upload, headers=headers)


@pytest.mark.slow
def test_parallel_100_mb_uploads_leave_the_api_s_memory_alone(
    settings: Settings, tmp_path: Path
) -> None:
    with clinic_api(settings, tmp_path) as (base_url, process):
        # Warm up the paths the uploads take, so the floor includes their code.
        for _ in range(3):
            _post(base_url, Upload(2 * LIMIT), declared=False)
            _post(base_url, Upload(2 * LIMIT), declared=True)
        time.sleep(0.5)
        floor = process.memory_info().rss
        # Six anonymous chunked 100 MB uploads, and one that declares its 100 MB.
        uploads = [(Upload(HUNDRED_MB), False) for _ in range(6)] + [(Upload(HUNDRED_MB), True)]
        started = time.monotonic()
        with PeakRss(process) as rss, ThreadPoolExecutor(len(uploads)) as pool:
            responses = list(pool.map(lambda u: _post(base_url, *u), uploads))
        elapsed = time.monotonic() - started
    growth = rss.peak - floor
    sent = [upload.taken for upload, _ in uploads]
    print(
        f"\nAPI RSS floor {floor / 2**20:.1f} MiB, peak {rss.peak / 2**20:.1f} MiB, "
        f"growth {growth / 2**20:.1f} MiB in {elapsed:.2f}s; the clients got to send "
        f"{[round(s / 2**20, 1) for s in sent]} MiB of their 100 MB each"
    )
    for response in responses:
        _assert_413(response)
    assert growth < 50 * 2**20
    # Cut at the limit: the server stopped reading, so no client got far into its 100 MB
    # (what it did send sits in the two sockets' kernel buffers, a few MiB).
    assert max(sent) < 32 * 2**20
