"""The development channel: each message becomes a text file in the outbox folder.

With no SMTP server or SMS provider configured, `clinic dev` still "sends" every message,
and a developer (or an end-to-end test) reads exactly what a patient would have received.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import structlog

from services.core.settings import Settings
from services.messaging.channels import Outgoing, SendFailure

log = structlog.get_logger(__name__)


def render(outgoing: Outgoing) -> str:
    headers = [f"Channel: {outgoing.channel}", f"To: {outgoing.to}"]
    if outgoing.subject:
        headers.append(f"Subject: {outgoing.subject}")
    headers.append(f"Message-Id: {outgoing.message_id}")
    headers.extend(f"Attachment: {a.filename} ({a.content_type})" for a in outgoing.attachments)
    text = "\n".join(headers) + "\n\n" + outgoing.body + "\n"
    for attachment in outgoing.attachments:  # shown as sent (an .ics is text)
        text += f"\n--- {attachment.filename} ---\n" + attachment.data.decode("utf-8", "replace")
    return text


def write_to_outbox(outgoing: Outgoing, settings: Settings) -> str:
    """Write the message as ``<outbox>/<message id>.txt``; returns ``file:<id>.txt``.

    A resend overwrites the same file, like a provider deduplicating a retry.
    """
    name = f"{outgoing.message_id}.txt"
    path = settings.outbox_dir / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed over it: a reader (a test polling the
        # folder) sees no file or the whole file, never half of one.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(render(outgoing))
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        # A full disk or a read-only folder; the message is retried later.
        raise SendFailure(type(error).__name__, permanent=False) from None
    # The path holds only the message id: no PHI in the log line.
    log.info(
        "message written to outbox",
        message_id=str(outgoing.message_id),
        channel=outgoing.channel,
        path=str(path),
    )
    return f"file:{name}"
