"""Small urlencoded forms read with a hard size limit (public endpoints).

Starlette's ``request.form()`` accepts multipart bodies and spools uploaded files to disk
with no limit; a public page or webhook needs neither, and must not read megabytes from
anyone before it has checked who is calling.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

URLENCODED = "application/x-www-form-urlencoded"


def form_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a route's urlencoded body (read by ``small_form``, not
    declared as FastAPI ``Form`` parameters, so the route decides how a bad form answers)."""
    return {"requestBody": {"required": True, "content": {URLENCODED: {"schema": schema}}}}


class FormRefused(Exception):
    """Not an urlencoded form, too large, or too many fields."""


async def small_form(
    request: Request, *, max_bytes: int = 16_384, max_fields: int = 50
) -> dict[str, str]:
    """The form's fields (the first value of a repeated name)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != URLENCODED:
        raise FormRefused
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise FormRefused
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormRefused
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields
        )
    except ValueError:
        raise FormRefused from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
