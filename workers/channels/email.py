"""Email over SMTP (``smtplib``): STARTTLS, implicit TLS or plain, per settings."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from services.core.settings import Settings, SmtpSecurity
from workers.channels.base import Outgoing, SendFailure


def message_id(outgoing: Outgoing, settings: Settings) -> str:
    """The row's id: a resend of the same message carries the same Message-ID."""
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    return f"<{outgoing.message_id}@{domain}>"


def _compose(outgoing: Outgoing, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr((outgoing.sender_name, settings.email_from))
    email["To"] = outgoing.to
    email["Subject"] = outgoing.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id(outgoing, settings)
    email.set_content(outgoing.body)
    return email


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = (
        settings.smtp_host or "",
        settings.smtp_port,
        settings.smtp_timeout_seconds,
    )
    if settings.smtp_security is SmtpSecurity.ssl:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    connection = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp_security is SmtpSecurity.starttls:
        connection.starttls(context=ssl.create_default_context())
    return connection


def send_email(outgoing: Outgoing, settings: Settings) -> str:
    """Answers the Message-ID. A 5xx refusal is permanent; 4xx and network trouble are
    transient (retried). A login refused is transient too: an operator must fix it."""
    email = _compose(outgoing, settings)
    try:
        with _connect(settings) as connection:
            if settings.smtp_username:
                connection.login(settings.smtp_username, settings.smtp_password or "")
            connection.send_message(email)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        code = codes[0] if codes else 550
        raise SendFailure(f"smtp-{code}", permanent=500 <= code < 600) from None
    except smtplib.SMTPAuthenticationError as error:
        raise SendFailure(f"smtp-{error.smtp_code}", permanent=False) from None
    except smtplib.SMTPResponseException as error:
        code = error.smtp_code
        raise SendFailure(f"smtp-{code}", permanent=500 <= code < 600) from None
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailure(type(error).__name__, permanent=False) from None
    return str(email["Message-ID"])
