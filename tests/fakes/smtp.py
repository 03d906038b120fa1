"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    server = FakeSmtpServer()        # or FakeSmtpServer(username="u", password="p")
    server.start()
    ... Settings(smtp_host=server.host, smtp_port=server.port, smtp_security="none")
    server.reject_rcpt(550)          # the next RCPT gets "550 5.0.0 ..."; reject_data too
    server.stall(15, times=10)       # the next 10 messages wait 15 s before "250 OK"
    server.wait_stalling(10)         # until 10 conversations wait at once
    server.wait_for(1)               # -> [ReceivedEmail(...)]
    server.stop()

Also a context manager. The server runs its own event loop in a thread (aiosmtpd's
Controller), so it serves synchronous code and Celery worker processes alike; everything
shared with the test thread is guarded by one lock.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from functools import cached_property
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.fakes.waiting import wait_for_count


@dataclass(frozen=True)
class ReceivedEmail:
    """One accepted message. Parsed on first look, not while the sender waits for its
    "250 OK": the email package takes most of a millisecond, which a benchmark would
    count against the worker under test."""

    mail_from: str | None
    rcpt_tos: list[str]
    raw: bytes = field(repr=False)

    @cached_property
    def message(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def _header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    @property
    def message_id(self) -> str | None:
        return self._header("Message-ID")

    @property
    def to(self) -> str | None:
        return self._header("To")

    @property
    def subject(self) -> str | None:
        return self._header("Subject")

    @property
    def from_(self) -> str | None:
        return self._header("From")

    @cached_property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        # SMTP carries CRLF line ends; tests compare with the "\n" text the template produced.
        return str(body).replace("\r\n", "\n")


def _received(envelope: Envelope) -> ReceivedEmail:
    raw = envelope.original_content or b""
    return ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), raw)


class _Handler:
    """aiosmtpd calls these hooks on its loop thread."""

    def __init__(self, server: FakeSmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.server._take_rejection("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.server._take_rejection("data")
        if reply:
            return reply
        delay = self.server._take_stall()
        if delay:
            # A slow provider: the client waits for the reply; other sessions go on.
            self.server._stalling(+1)
            try:
                await asyncio.sleep(delay)
            finally:
                self.server._stalling(-1)
        self.server._record(_received(envelope))
        return "250 OK"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Bound to port 0 the first time: the real port is known only now.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        # What the base class does: one connection makes aiosmtpd build its SMTP instance
        # (lazily), so a broken handler fails start() instead of the first test's send.
        with socket.create_connection((self.hostname, self.port), timeout=1.0) as connection:
            connection.recv(1024)


class FakeSmtpServer:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.username, self.password = username, password
        self._lock = threading.Condition()
        self._messages: list[ReceivedEmail] = []
        self._rejections: dict[str, list[int]] = {"rcpt": [], "data": []}
        self.logins: list[str] = []  # user names that logged in, one per session
        self._stalls: list[float] = []
        self.stalled_now = 0  # conversations waiting in a stall at this moment
        self.port = 0  # any free port (parallel test runs never collide); set by start()
        self._controller: _Controller | None = None

    def start(self) -> FakeSmtpServer:
        """Start serving (again): a restart after ``stop()`` listens on the same port."""
        if self._controller is not None:
            return self
        options: dict[str, Any] = {}
        if self.username is not None:
            # Plain AUTH without TLS: fine on loopback, and the client under test speaks
            # it whenever CLINIC_SMTP_USERNAME is set.
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        # A new controller each time: a stopped one has closed its event loop for good.
        # server_hostname: skips a reverse DNS lookup (getfqdn) that can take seconds.
        controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            **options,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    def __enter__(self) -> FakeSmtpServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Failure switches -----------------------------------------------------------------

    def reject_rcpt(self, code: int, times: int = 1) -> None:
        """Answer the next ``times`` RCPT commands with ``code`` (451, 550, ...)."""
        self._queue_rejection("rcpt", code, times)

    def reject_data(self, code: int, times: int = 1) -> None:
        """Answer the next ``times`` messages' end of DATA with ``code``."""
        self._queue_rejection("data", code, times)

    def _queue_rejection(self, stage: str, code: int, times: int) -> None:
        if not 400 <= code < 600:
            raise ValueError(f"{code} is not an SMTP failure code (4xx or 5xx)")
        with self._lock:
            self._rejections[stage].extend([code] * times)

    def _take_rejection(self, stage: str) -> str | None:
        with self._lock:
            queue = self._rejections[stage]
            if not queue:
                return None
            code = queue.pop(0)
        # An enhanced status code of the same class, as real servers send ("550 5.0.0 ...").
        return f"{code} {code // 100}.0.0 Rejected by the test"

    def stall(self, seconds: float, times: int = 1) -> None:
        """Hold the reply to the next ``times`` messages' DATA for ``seconds`` each (the
        message is kept, and accepted, at the end). Stalls of parallel sessions overlap."""
        with self._lock:
            self._stalls.extend([seconds] * times)

    def _take_stall(self) -> float:
        with self._lock:
            return self._stalls.pop(0) if self._stalls else 0.0

    def _stalling(self, change: int) -> None:
        with self._lock:
            self.stalled_now += change
            self._lock.notify_all()

    def wait_stalling(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` conversations wait in a stall at once; ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.stalled_now < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.stalled_now} of {count} sends stalled at once")
                self._lock.wait(left)

    # What arrived ---------------------------------------------------------------------

    def _record(self, received: ReceivedEmail) -> None:
        with self._lock:
            self._messages.append(received)
            self._lock.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        if ok:
            with self._lock:
                self.logins.append(data.login.decode())
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[ReceivedEmail]:
        """A copy: safe to read while the server keeps receiving."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            for queue in self._rejections.values():
                queue.clear()
            self._stalls.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedEmail]:
        """Block until at least ``count`` messages arrived; raises ``TimeoutError``."""
        return wait_for_count(self._lock, self._messages, count, timeout, "emails")
