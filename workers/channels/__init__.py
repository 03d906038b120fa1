"""Channels: how a rendered message leaves the building.

``send`` picks the real channel when it is configured and the outbox folder otherwise, so
development and tests never need an SMTP server or an SMS account.
"""

from __future__ import annotations

from services.core.settings import Settings
from workers.channels.base import Outgoing, SendFailure
from workers.channels.email import send_email
from workers.channels.outbox_file import write_to_outbox
from workers.channels.sms import send_sms

__all__ = ["Outgoing", "SendFailure", "send"]


def send(outgoing: Outgoing, settings: Settings) -> str:
    """Send one message; returns the channel's id for it (a Message-ID, a provider sid or
    ``file:<id>.txt``). Raises ``SendFailure``."""
    if outgoing.channel == "email":
        if settings.smtp_host:
            return send_email(outgoing, settings)
        return write_to_outbox(outgoing, settings)
    if outgoing.channel == "sms":
        if settings.sms_account_sid:
            return send_sms(outgoing, settings)
        return write_to_outbox(outgoing, settings)
    # "none" rows are skipped before they get here; anything else is a bug upstream.
    raise SendFailure("unknown-channel", permanent=True)
