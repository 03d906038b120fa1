"""The OpenAPI document says what the API really answers.

Every error is ``application/problem+json`` with one ``Problem`` schema (except on the
HTML pages for patients, whose error pages are HTML and documented so), and every
operation that needs a sign-in documents 401 and 403, and every one that takes a body
documents the 413 of the body limit, so schema checks (schemathesis) and generated clients
see the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.core.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Field errors on 422: where (loc), what (msg), and a type code.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_SIGNED_IN = {"401": "Not signed in, or the session ended", "403": "Your role does not allow this"}
_CONDITIONAL = {
    "412": "The record changed since the ETag sent in If-Match",
    "428": "If-Match missing",
}


def _problem_responses(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        for status, description in _SIGNED_IN.items():
            responses.setdefault(status, {"description": description})
    if any(
        p.get("in") == "header" and p.get("name", "").lower() == "if-match"
        for p in operation.get("parameters", [])
    ):
        for status, description in _CONDITIONAL.items():
            responses.setdefault(status, {"description": description})
    if "requestBody" in operation:
        responses.setdefault("400", {"description": "The body could not be decoded"})
        responses.setdefault(
            "413", {"description": "The body is larger than the limit (CLINIC_MAX_BODY_BYTES)"}
        )
    for status, response in responses.items():
        # Patient pages answer their errors as HTML pages, and say so themselves.
        if status[0] in "45" and "text/html" not in response.get("content", {}):
            response["content"] = _PROBLEM_CONTENT


def _no_null_parameters(operation: dict[str, Any]) -> None:
    """An optional query or header parameter is left out, never sent as ``null``.

    FastAPI writes ``str | None = None`` as ``anyOf: [string, null]``, which tells clients
    (and schemathesis) that the text "null" is a valid value.
    """
    for parameter in operation.get("parameters", []):
        options = parameter.get("schema", {}).get("anyOf")
        if not options:
            continue
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1 and len(kept) < len(options):
            parameter["schema"] = {
                **{k: v for k, v in parameter["schema"].items() if k != "anyOf"},
                **kept[0],
            }


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    _problem_responses(operation)
                    _no_null_parameters(operation)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["Problem"] = PROBLEM_SCHEMA
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
