"""Server-rendered HTML for patients (confirm/cancel links): Jinja2, autoescaped, no script.

Every page answers with the same protective headers: nothing cached (a shared phone or a
proxy must not keep a patient's visit), no referrer (the token is in the URL), not indexed,
and a Content-Security-Policy that allows no script, no external load, no framing.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

_PAGES = Environment(
    # The check-in pages (services/checkins) extend this package's base.html.
    loader=ChoiceLoader(
        [
            PackageLoader("services.messaging", "templates/pages"),
            PackageLoader("services.checkins", "templates/pages"),
        ]
    ),
    autoescape=True,  # patient and clinic names are data, never markup
    undefined=StrictUndefined,
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    # frame-ancestors/X-Frame-Options: buttons that cancel a visit must not be clickjacked.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

HTML_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = _PAGES.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
