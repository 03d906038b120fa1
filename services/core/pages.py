"""Server-rendered HTML for patients (``/a/``, ``/c/`` and later pages): Jinja2,
autoescaped, no script. Each package renders its own templates over the shared
``base.html`` and ``not_found.html`` here.

Every page answers with the same protective headers: nothing cached (a shared phone or a
proxy must not keep a patient's visit), no referrer (the token is in the URL), not indexed,
and a Content-Security-Policy that allows no script, no external load, no framing.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from services.core.errors import Gone, NotFound

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


class Pages:
    """The pages of one package (its ``templates/pages``), over the shared ones."""

    def __init__(self, package: str, *, gone: str) -> None:
        self._environment = Environment(
            loader=ChoiceLoader(
                [
                    PackageLoader(package, "templates/pages"),
                    PackageLoader("services.core", "templates/pages"),
                ]
            ),
            autoescape=True,  # patient and clinic names are data, never markup
            undefined=StrictUndefined,
        )
        self._gone = gone

    def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        body = self._environment.get_template(template).render(**context)
        return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)

    def refusal(self, error: NotFound | Gone) -> HTMLResponse:
        """A link that is not valid (404) or no longer works (410), naming nobody."""
        if isinstance(error, NotFound):
            return self.page("not_found.html", 404)
        return self.page(self._gone, 410)
