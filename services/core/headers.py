"""The headers every answer carries (a plain ASGI middleware, as in ``middleware.py``).

- ``Cache-Control: no-store`` on everything under ``/api/``: nearly every API answer names a
  patient, and a list that tries to guess which do would rot. Answers elsewhere that already
  say no-store (the patient pages, the calendar feeds) keep theirs.
- ``X-Content-Type-Options: nosniff`` and a referrer policy on every answer; a route's own
  stricter value (the patient pages set theirs) is kept.
- ``Strict-Transport-Security`` when the public URL is https.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A year: the browser keeps to https for the clinic's host alone (its other subdomains are
# not this service's to speak for).
HSTS = "max-age=31536000"


def add_security_headers(path: str, headers: MutableHeaders, *, hsts: bool) -> None:
    if path.startswith("/api/") and "no-store" not in headers.get("cache-control", ""):
        headers["Cache-Control"] = "no-store"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if hsts:
        headers.setdefault("Strict-Transport-Security", HSTS)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                add_security_headers(scope["path"], headers, hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
