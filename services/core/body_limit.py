"""Request bodies are limited before anything reads them.

A plain ASGI middleware in front of every route: a declared ``Content-Length`` over the limit
is answered 413 at once (the body is never read, so no ``100 Continue`` either); a body
without one (chunked) is counted as it streams and cut at the limit. Without this, FastAPI
reads a whole body before the route's dependencies check who is calling, so anyone could
make the API hold hundreds of megabytes. The patient pages and the SMS webhook read their
forms with smaller limits of their own (``services/core/forms.py``).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.errors import http_error

# The rest of the body is not read: the connection cannot carry another request.
_CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` so that FastAPI's body reading passes it on as it is (any
    other exception there becomes a 400) and the error handlers render the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.", _CLOSE)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Read outside the routes' error handling (a middleware, a background task).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await http_error(Request(scope), BodyTooLarge(self.max_bytes))
        await response(scope, receive, send)
