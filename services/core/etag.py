"""Optimistic concurrency: ``ETag`` from a row's version, ``If-Match`` required on update."""

from __future__ import annotations

from fastapi import Response

from services.core.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(if_match: str | None) -> int:
    """The version the client last saw, from ``If-Match`` (428 without one)."""
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last read, so no one's change is overwritten."
        )
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed("If-Match does not hold an ETag issued by this server.")
    return int(value)


def check_version(current: int, expected: int) -> None:
    if current != expected:
        raise PreconditionFailed(
            "The record changed since you read it. Reload it and apply your change again.",
            current_etag=etag(current),
        )
