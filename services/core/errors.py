"""One error hierarchy, rendered as ``application/problem+json`` (RFC 9457).

Services raise these; ``install_error_handlers`` turns them, FastAPI's validation errors,
Starlette's routing errors and anything unexpected into problem documents. A 500 never
carries a stack trace, SQL or the exception's text.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from services.core.headers import add_security_headers

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://clinic.invalid/problems/"

log = structlog.get_logger(__name__)


class AppError(Exception):
    status: int = 500
    code: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        # True: the request's transaction commits what it wrote before this was raised.
        self.keep_changes = keep_changes
        self.extra = extra


class BadRequest(AppError):
    status, code, title = 400, "bad-request", "Bad Request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, *, keep_changes: bool = False) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, keep_changes=keep_changes)


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not-found", "Not Found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(AppError):
    """It existed and no longer works (a used or expired link): 410, whatever the reason."""

    status, code, title = 410, "gone", "Gone"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition-failed", "Precondition Failed"


class ValidationFailed(AppError):
    """422 for rules a schema cannot express; ``errors`` holds ``{loc, msg, type}`` items."""

    status, code, title = 422, "validation-failed", "Unprocessable Content"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition-required", "Precondition Required"


class TooManyRequests(AppError):
    status, code, title = 429, "too-many-requests", "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(AppError):
    status, code, title = 503, "service-unavailable", "Service Unavailable"


_STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "content-too-large",
    415: "unsupported-media-type",
}


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only the location, message and type: echoing the rejected input could put PHI in logs.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        request,
        status=422,
        code=ValidationFailed.code,
        title=ValidationFailed.title,
        detail="The request has invalid fields.",
        errors=_field_errors(exc),
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method of the path, from the OpenAPI document.

    Starlette's router lists only the first route that matched the path, so a path served
    by two routes (GET and POST /users) would answer a 405 with half the truth.
    """
    path = getattr(request.scope.get("route"), "path", None)
    operations = request.app.openapi().get("paths", {}).get(path)
    if not operations:
        return None
    return ", ".join(sorted(method.upper() for method in operations))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTPException (routing errors, and the body limit's 413) as a problem."""
    assert isinstance(exc, StarletteHTTPException)
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allow = _allowed_methods(request)
        if allow:
            headers["Allow"] = allow
    return problem_response(
        request,
        status=exc.status_code,
        code=_STATUS_CODES.get(exc.status_code, title.lower().replace(" ", "-")),
        title=title,
        detail=detail,
        headers=headers or None,
    )


# A constraint the database enforced that no service turned into a friendlier error first.
_INTEGRITY = {
    "23505": (409, "conflict", "Conflict", "This conflicts with an existing record."),
    "23P01": (409, "conflict", "Conflict", "This overlaps an existing record."),
    "23503": (409, "conflict", "Conflict", "A record this refers to does not exist or is in use."),
    "23514": (422, "validation-failed", "Unprocessable Content", "A value breaks a rule."),
}


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # Input the database cannot store as given (a NUL character, a number out of range)
    # that slipped past the schemas: the client's mistake, so 422, never 500.
    return problem_response(
        request,
        status=422,
        code=ValidationFailed.code,
        title=ValidationFailed.title,
        detail="A value cannot be stored as given (for example, it contains a NUL character).",
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate not in _INTEGRITY:
        return await _unexpected_error(request, exc)
    status, code, title, detail = _INTEGRITY[sqlstate]
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    return problem_response(
        request, status=status, code=code, title=title, detail=detail, constraint=constraint
    )


async def _database_lost(request: Request, exc: Exception) -> JSONResponse:
    """A connection that died under a statement (a database restart, a failover). The pool
    has already replaced its older connections (``database.ping_idle_connections``), so
    trying again works; but a connection lost during COMMIT may have committed, so the answer
    does not promise that nothing was saved (a booking sent with ``Idempotency-Key`` is safe
    to repeat)."""
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        raise exc  # to the outermost handler, ``_unexpected_error``: a 500 like any other
    log.warning("database_connection_lost", error_class=type(exc.orig).__name__)
    return problem_response(
        request,
        status=ServiceUnavailable.status,
        code=ServiceUnavailable.code,
        title=ServiceUnavailable.title,
        detail=(
            "The connection to the database was lost. The change may not have been saved:"
            " check before trying again."
        ),
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The logging setup keeps the class and frames and drops the message (it may quote
    # SQL parameters, i.e. patient data).
    log.error("unhandled_error", exc_info=exc)
    request_id = getattr(request.state, "request_id", None)
    response = problem_response(
        request,
        status=500,
        code=AppError.code,
        title=AppError.title,
        detail="Something went wrong on our side. The request id identifies it in the logs.",
        # This answer is sent outside the middlewares, which add these headers otherwise.
        headers={"X-Request-ID": request_id} if request_id else None,
    )
    settings = getattr(request.app.state, "settings", None)
    add_security_headers(request.url.path, response.headers, hsts=bool(settings and settings.https))
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_lost)
    app.add_exception_handler(Exception, _unexpected_error)
