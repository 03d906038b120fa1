"""Where a message goes: SMTP or the SMS provider when configured, else the outbox folder."""

from __future__ import annotations

from services.core.settings import Settings
from workers.channels.base import Outgoing, SendFailure
from workers.channels.email import send_email
from workers.channels.outbox_file import write_to_outbox
from workers.channels.sms import send_sms

__all__ = ["Outgoing", "SendFailure", "send"]


def send(outgoing: Outgoing, settings: Settings) -> str:
    if outgoing.channel == "email" and settings.smtp_host:
        return send_email(outgoing, settings)
    if outgoing.channel == "sms" and settings.sms_account_sid:
        return send_sms(outgoing, settings)
    return write_to_outbox(outgoing, settings)
