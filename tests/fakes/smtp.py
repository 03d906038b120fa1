"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, for tests."""

from __future__ import annotations

import email
import socket
import threading
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    message_id: str
    to: str
    subject: str
    body: str


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse_next:
            self.sink.refuse_next -= 1
            return self.sink.refuse_with
        parsed: Message = email.message_from_bytes(envelope.content or b"")  # type: ignore[arg-type]
        payload: Any = parsed.get_payload(decode=True) or b""
        self.sink.add(
            Received(
                message_id=str(parsed["Message-ID"]),
                to=str(parsed["To"]),
                subject=str(parsed["Subject"]),
                body=payload.decode(parsed.get_content_charset() or "utf-8"),
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """``refuse_next``/``refuse_with``: answer the next DATA commands with an error."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.received: list[Received] = []
        self.refuse_next = 0
        self.refuse_with = "451 Try again later"
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def add(self, message: Received) -> None:
        with self._lock:
            self.received.append(message)

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages()
