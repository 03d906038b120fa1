"""A local stand-in for the Twilio Messages API (the subset the SMS channel speaks).

    provider = FakeSmsProvider()     # starts at once; or use it as a context manager
    Settings(sms_base_url=provider.base_url, sms_account_sid=provider.account_sid,
             sms_auth_token=provider.auth_token, sms_from=provider.from_number)
    provider.fail_next(2, status=503)        # outage: the next 2 requests get 503
    provider.invalid_numbers.add("+15005550001")  # 400 with code 21211
    provider.wait_for(1)                     # -> [SentSms(...)]
    provider.stop()

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1, a free port, in a daemon thread: usable from
the test process and from a Celery worker process alike. Each accepted request is kept,
duplicates included, so a test can prove a message went out exactly once.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs

from tests.fakes.waiting import wait_for_count

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    from_: str
    body: str
    idempotency_key: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck request never keeps the test process alive

    def __init__(self, provider: FakeSmsProvider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.provider = provider


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: request lines would clutter every test's output

    def do_POST(self) -> None:
        provider = cast(_Server, self.server).provider
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        status, payload = provider._handle(
            self.path,
            self.headers.get("Authorization"),
            self.headers.get("Content-Type", ""),
            {name: values[-1] for name, values in form.items()},
            self.headers.get("Idempotency-Key"),
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "status": status}


class FakeSmsProvider:
    def __init__(self, *, from_number: str = "+15005550006") -> None:
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.from_number = from_number
        # Numbers answered with 400 / 21211; a set the test may change at any time.
        self.invalid_numbers: set[str] = set()
        self.requests = 0  # every POST, failed ones included
        self._lock = threading.Condition()
        self._messages: list[SentSms] = []
        self._failures: list[int] = []
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> FakeSmsProvider:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (500, 503, 429, ...)."""
        with self._lock:
            self._failures.extend([status] * count)

    @property
    def messages(self) -> list[SentSms]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self.invalid_numbers.clear()
            self.requests = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SentSms]:
        """Block until at least ``count`` messages accepted; raises ``TimeoutError``."""
        return wait_for_count(self._lock, self._messages, count, timeout, "texts")

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(
            f"{user}:{password}".encode(), f"{self.account_sid}:{self.auth_token}".encode()
        )

    def _handle(
        self, path: str, auth: str | None, content_type: str, form: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """The answer to one POST; runs on a request thread."""
        with self._lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return _error(failure, 20500 if failure >= 500 else 20429, "Simulated failure")
        match = _PATH.match(path)
        if not match:
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorized(auth) or match["sid"] != self.account_sid:
            return _error(401, 20003, "Authenticate")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _error(400, 20001, "Expected a form-encoded body")
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if from_ != self.from_number:
            return _error(400, 21606, "The 'From' number is not a valid number for this account.")
        with self._lock:
            invalid = to in self.invalid_numbers
        if invalid or not _E164.match(to):
            # Quotes the number, as Twilio does: the channel must not pass it on.
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sent = SentSms("SM" + uuid.uuid4().hex, to, from_, body, key)
        with self._lock:
            self._messages.append(sent)
            self._lock.notify_all()
        return 201, {
            "sid": sent.sid,
            "account_sid": self.account_sid,
            "status": "queued",
            "to": to,
            "from": from_,
            "body": body,
        }
