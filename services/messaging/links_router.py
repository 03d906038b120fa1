"""The patient's confirm/cancel page at /a/{token}: no sign-in, the token is the credential.

Answers are HTML pages, errors too (404 not valid, 410 no longer works, 422 unknown
choice): a patient on a phone should never see a JSON document.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from services.core import clock
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.errors import Gone, NotFound
from services.core.forms import FormRefused, form_body, small_form
from services.core.pages import HTML_PAGE, Pages
from services.messaging import links

router = APIRouter(tags=["patient pages"])

LINK_PATH = "/a/{token}"
Token = Annotated[str, Path(description="The token from the link in the patient's message")]

_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page", "content": HTML_PAGE},
    404: {"description": "This link is not valid (whatever the reason)", "content": HTML_PAGE},
    410: {
        "description": "The link no longer works (used, expired, or the visit changed)",
        "content": HTML_PAGE,
    },
}
_FORM = form_body(
    {
        "type": "object",
        "required": ["action"],
        "properties": {"action": {"type": "string", "enum": list(links.ACTIONS)}},
        # One field; a body over 1 KiB is refused before it is parsed.
        "additionalProperties": False,
    }
)


def _visit_context(visit: links.Visit) -> dict[str, Any]:
    return {
        "first_name": visit.first_name,
        "when": visit.when,
        "clinic": visit.clinic,
        "phone": visit.phone,
        "phone_e164": visit.phone_e164,
        "confirmed": visit.confirmed,
    }


_PAGES_OF = Pages("services.messaging", gone="gone.html")
page = _PAGES_OF.page


@router.get(LINK_PATH, response_class=HTMLResponse, responses=_PAGES)
async def show_link(
    token: Token, session: SessionDep, settings: SettingsDep, client: ClientDep
) -> HTMLResponse:
    """The visit (first name, local time, clinic) with a confirm and a cancel button.
    Opening the link changes nothing: link scanners open links too."""
    try:
        visit = await links.show(
            session, token, secret_key=settings.secret_key, client=client, now=clock.utcnow()
        )
    except (NotFound, Gone) as error:
        return _PAGES_OF.refusal(error)
    return page("visit.html", **_visit_context(visit))


@router.post(
    LINK_PATH,
    response_class=HTMLResponse,
    responses={
        **_PAGES,
        422: {
            "description": "Not a small urlencoded form, or action is neither confirm nor cancel",
            "content": HTML_PAGE,
        },
    },
    openapi_extra=_FORM,
)
async def use_link(
    token: Token,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> HTMLResponse:
    """Confirm or cancel the visit (form field ``action``); the link then stops working."""
    # Read by hand, not as a Form parameter: a bad form must get the 422 page, not JSON.
    try:
        form = await small_form(request, max_bytes=1024, max_fields=20)
    except FormRefused:
        return page("unprocessable.html", 422)
    try:
        outcome = await links.act(
            session,
            token,
            form.get("action"),
            secret_key=settings.secret_key,
            client=client,
            now=clock.utcnow(),
        )
    except (NotFound, Gone) as error:
        return _PAGES_OF.refusal(error)
    except links.BadAction:
        return page("unprocessable.html", 422)
    return page("done.html", cancelled=outcome.action == "cancel", **_visit_context(outcome.visit))
