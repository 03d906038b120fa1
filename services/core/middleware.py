"""Request context: request id, one log line and Prometheus metrics per request.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so it adds no task switch per request.

An inbound ``X-Request-ID`` is kept only from a trusted proxy (``CLINIC_TRUSTED_PROXIES``),
judged by the socket peer: this middleware runs before the app's proxy-header handling
rewrites the client address. From anyone else the server makes its own, and logs the
caller's (sanitised) as ``caller_request_id``, so a caller cannot choose the id that the
audit trail and the logs file its requests under.
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Sequence

import structlog
from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.settings import IPNetwork

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")

REQUESTS = Counter(
    "clinic_http_requests_total", "HTTP requests by route template", ["method", "route", "status"]
)
LATENCY = Histogram(
    "clinic_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

log = structlog.get_logger("clinic.http")


def route_template(scope: Scope) -> str:
    # The template, never the concrete path: ids and search terms stay out of labels and logs.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            return str(value.decode("latin-1"))
    return None


def _peer_is_trusted(scope: Scope, trusted: Sequence[IPNetwork]) -> bool:
    # The same rule as uvicorn's ProxyHeadersMiddleware applies to X-Forwarded-For (an
    # IPv4-mapped peer such as ::ffff:10.0.0.5 is not 10.0.0.5), so one list means one thing.
    client = scope.get("client")
    if not client or not trusted:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _request_ids(scope: Scope, trusted: Sequence[IPNetwork]) -> tuple[str, str | None]:
    """The request's id, and the caller's when it was not taken (for the log only)."""
    incoming = _incoming_request_id(scope)
    if incoming is None:
        return uuid.uuid4().hex, None
    if _SAFE_REQUEST_ID.match(incoming) and _peer_is_trusted(scope, trusted):
        return incoming, None
    return uuid.uuid4().hex, _UNSAFE_CHARACTERS.sub("", incoming)[:64] or None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, caller_request_id = _request_ids(scope, self.trusted_proxies)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if caller_request_id:
            structlog.contextvars.bind_contextvars(caller_request_id=caller_request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
