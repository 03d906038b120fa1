"""The development channel: each message becomes a file under ``.clinic/outbox/``."""

from __future__ import annotations

import os
import tempfile

import structlog

from services.core.settings import Settings
from workers.channels.base import Outgoing

log = structlog.get_logger(__name__)


def write_to_outbox(outgoing: Outgoing, settings: Settings) -> str:
    folder = settings.outbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{outgoing.message_id}.txt"
    headers = [f"Channel: {outgoing.channel}", f"To: {outgoing.to}"]
    if outgoing.subject:
        headers.append(f"Subject: {outgoing.subject}")
    text = "\n".join([*headers, f"Message-Id: {outgoing.message_id}", "", outgoing.body])
    # Written whole or not at all: a reader never sees half a message.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, folder / name)
    log.info("message written to outbox", message_id=str(outgoing.message_id), file=name)
    return f"file:{name}"
