"""Email over SMTP, with the standard library.

Failures become ``SendFailure`` with the SMTP reply code only: the server's reply text and
smtplib's exceptions quote the recipient's address, so neither is kept, and each failure
is raised ``from None`` so a logged traceback does not carry them either.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from services.core.settings import Settings, SmtpSecurity
from services.messaging.channels import Outgoing, SendFailure

# A refused login is the operator's to fix, not the patient's address: transient, so the
# messages go out once the configuration is corrected instead of all failing for good.
_AUTH_FAILED = 535


def message_id_for(outgoing: Outgoing, settings: Settings) -> str:
    """``<row id@sender domain>``: the same for every attempt of one message, so a resend
    after a lost reply is recognisable (and deduplicated by some receiving servers)."""
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    return f"<{outgoing.message_id}@{domain}>"


def build_message(outgoing: Outgoing, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    # formataddr encodes a non-ASCII display name ("Clínica Núñez") as an RFC 2047 word.
    message["From"] = formataddr((outgoing.sender_name, settings.email_from))
    message["To"] = outgoing.to
    message["Subject"] = outgoing.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id_for(outgoing, settings)
    message.set_content(outgoing.body, charset="utf-8")
    for attachment in outgoing.attachments:
        main, _, sub = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=main, subtype=sub, filename=attachment.filename
        )
    return message


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    if settings.smtp_security is SmtpSecurity.ssl:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp_security is SmtpSecurity.starttls:
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


@dataclass
class _Live:
    smtp: smtplib.SMTP
    key: tuple[object, ...]
    sent: int = 0
    used_at: float = 0.0


class _Sessions:
    """The worker process's idle SMTP sessions, kept between messages: a new one costs a
    TCP (and TLS) handshake, EHLO and login, several times the cost of sending. Each send
    takes a session of its own (a new one when none is idle), so the sends of a threaded
    worker wait on a slow server side by side instead of queueing behind one session; the
    lock guards the idle list only, never a conversation. An idle session is checked with
    NOOP before reuse, and a session whose send raised is closed, never reused: the message
    is retried later through the outbox, on a fresh one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Live] = []

    def take(self, settings: Settings) -> _Live:
        key = _key(settings)
        while True:
            with self.lock:
                if not self.idle:
                    break
                live = self.idle.pop()  # the most recently used: likeliest still open
            if self._usable(live, key):
                return live
            _close(live.smtp)
        smtp = _connect(settings)
        try:
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
        except BaseException:
            _close(smtp)
            raise
        return _Live(smtp, key)

    @staticmethod
    def _usable(live: _Live, key: tuple[object, ...]) -> bool:
        if live.key != key or live.sent >= MESSAGES_PER_SESSION:
            return False
        if time.monotonic() - live.used_at < FRESH_SECONDS:
            return True  # in a burst: the server has not timed the session out
        try:
            return live.smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def give_back(self, live: _Live) -> None:
        live.sent += 1
        live.used_at = time.monotonic()
        with self.lock:
            self.idle.append(live)


# Servers often limit messages per session; a fresh session before that limit avoids
# a 421 that would delay a message until its retry.
MESSAGES_PER_SESSION = 100
# A session used this recently is trusted without a NOOP; servers drop idle sessions after
# minutes, not seconds.
FRESH_SECONDS = 5.0
_sessions = _Sessions()


def _key(settings: Settings) -> tuple[object, ...]:
    return (
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password,
    )


def _close(smtp: smtplib.SMTP) -> None:
    # Not ``with smtplib.SMTP(...)``: its exit raises when QUIT gets an odd reply.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _deliver(message: EmailMessage, settings: Settings) -> None:
    live = _sessions.take(settings)
    try:
        live.smtp.send_message(message)
    except BaseException:
        _close(live.smtp)
        raise
    _sessions.give_back(live)


def _failure(code: int) -> SendFailure:
    permanent = 500 <= code < 600 and code != _AUTH_FAILED
    return SendFailure(f"smtp-{code}", permanent=permanent)


def send_email(outgoing: Outgoing, settings: Settings) -> str:
    """Send one email; returns its Message-ID (``<uuid@domain>``, angle brackets included).

    5xx replies to the sender, the recipient or the data are permanent; 4xx replies,
    authentication failures and network errors are transient.
    """
    try:
        message = build_message(outgoing, settings)
    except (ValueError, TypeError):
        # A header with a line break or similar: the same content fails every time.
        raise SendFailure("email-invalid-message", permanent=True) from None
    try:
        _deliver(message, settings)
    except smtplib.SMTPRecipientsRefused as error:
        # One recipient per message: its reply code decides (450 greylisting vs 550).
        codes = [code for code, _ in error.recipients.values()]
        raise _failure(min(codes, default=550)) from None
    except smtplib.SMTPResponseException as error:
        # Covers SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError, SMTPHeloError.
        raise _failure(error.smtp_code) from None
    except (smtplib.SMTPException, OSError) as error:
        # Connection refused or dropped, timeouts, TLS errors, no STARTTLS on the server.
        # smtplib reports a timed-out reply as SMTPServerDisconnected; name the cause.
        cause = error.__context__ if isinstance(error, smtplib.SMTPServerDisconnected) else None
        name = type(cause if isinstance(cause, OSError) else error).__name__
        raise SendFailure(name, permanent=False) from None
    return message_id_for(outgoing, settings)
