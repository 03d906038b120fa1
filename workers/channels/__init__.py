"""Channels: how a rendered message leaves the building.

``send`` picks the real channel when it is configured. Otherwise, in development and tests,
the outbox folder (no SMTP server or SMS account needed); in production, a transient
failure (``email-not-configured``): a message written to a local file is not a message
sent, and the retries let it go out once the channel is configured.
"""

from __future__ import annotations

from services.core.settings import Environment, Settings
from services.messaging.channels import Outgoing, SendFailure
from workers.channels.email import send_email
from workers.channels.outbox_file import write_to_outbox
from workers.channels.sms import send_sms

__all__ = ["Outgoing", "SendFailure", "send"]


def send(outgoing: Outgoing, settings: Settings) -> str:
    """Send one message; returns the channel's id for it (a Message-ID, a provider sid or
    ``file:<id>.txt``). Raises ``SendFailure``."""
    if outgoing.channel == "email" and settings.smtp_host:
        return send_email(outgoing, settings)
    if outgoing.channel == "sms" and settings.sms_account_sid:
        return send_sms(outgoing, settings)
    if outgoing.channel not in ("email", "sms"):
        # "none" rows are skipped before they get here; anything else is a bug upstream.
        raise SendFailure("unknown-channel", permanent=True)
    if settings.env == Environment.production:
        raise SendFailure(f"{outgoing.channel}-not-configured", permanent=False)
    return write_to_outbox(outgoing, settings)
    # "none" rows are skipped before they get here; anything else is a bug upstream.
    raise SendFailure("unknown-channel", permanent=True)
