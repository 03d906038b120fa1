"""The patient's check-in form at /c/{token}: no sign-in, the token is the credential.

GET shows the questions. POST takes the HTML form (urlencoded) and answers with pages, or
a JSON body ``{"answers": {...}}`` (an app, a test) and answers with JSON and problem
documents. Pages carry the protective headers of ``services/core/pages.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.checkins import answering, scoring
from services.checkins.questionnaire import (
    ChoiceItem,
    CountItem,
    NrsItem,
    Questionnaire,
    TextItem,
    YesNoItem,
    load,
)
from services.core import clock
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.errors import (
    PROBLEM_MEDIA_TYPE,
    Gone,
    NotFound,
    ValidationFailed,
    problem_response,
)
from services.core.forms import URLENCODED, FormRefused, small_form
from services.core.pages import HTML_PAGE, Pages

router = APIRouter(tags=["patient pages"])

CHECKIN_PATH = "/c/{token}"
Token = Annotated[str, Path(description="The token from the link in the check-in message")]
JSON = "application/json"
# Free text of 2,000 characters, each up to 12 bytes once percent-encoded, and the rest.
MAX_FORM_BYTES = 32_768
MAX_JSON_BYTES = 65_536
MAX_FIELDS = 50


class Submission(BaseModel):
    """Answers by item id: whole numbers for scales, counts and choices, true/false for
    yes/no questions, text for free text."""

    model_config = ConfigDict(extra="forbid")

    answers: Annotated[dict[str, Any], Field(max_length=100)]


class Answered(BaseModel):
    status: str = "answered"
    red_flag: bool


def _form_schema(definition: Questionnaire) -> dict[str, Any]:
    """The exact urlencoded form of a questionnaire (the current version's is documented)."""
    properties: dict[str, Any] = {}
    for item in definition.items:
        if isinstance(item, NrsItem):
            properties[item.id] = {"type": "string", "enum": [str(n) for n in range(11)]}
        elif isinstance(item, ChoiceItem):
            properties[item.id] = {"type": "string", "enum": [str(o.value) for o in item.options]}
        elif isinstance(item, CountItem):
            properties[item.id] = {"type": "integer", "minimum": 0, "maximum": item.max}
        elif isinstance(item, YesNoItem):
            properties[item.id] = {"type": "string", "enum": ["yes", "no"]}
        elif isinstance(item, TextItem):
            properties[item.id] = {"type": "string", "maxLength": item.max_length}
    return {
        "type": "object",
        "required": [item.id for item in definition.items if item.required],
        "properties": properties,
        "additionalProperties": False,
    }


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            URLENCODED: {"schema": _form_schema(load())},
            JSON: {"schema": Submission.model_json_schema()},
        },
    }
}
_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"type": "object"}}}
_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page", "content": HTML_PAGE},
    404: {"description": "This link is not valid (whatever the reason)", "content": HTML_PAGE},
    410: {
        "description": "The link no longer works (used, expired, or the check-in closed)",
        "content": HTML_PAGE,
    },
}
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Thank-you page, or for JSON the outcome",
        "content": {**HTML_PAGE, JSON: {"schema": Answered.model_json_schema()}},
    },
    404: {**_PAGES[404], "content": {**HTML_PAGE, **_PROBLEM}},
    410: {**_PAGES[410], "content": {**HTML_PAGE, **_PROBLEM}},
    422: {
        "description": "Invalid answers (the form again, each error by its question), or a "
        "body that is not a small form or JSON submission",
        "content": {**HTML_PAGE, **_PROBLEM},
    },
}


_PAGES_OF = Pages("services.checkins", gone="checkin_gone.html")
page = _PAGES_OF.page


def _form_page(
    form: answering.CheckinForm,
    status_code: int = 200,
    *,
    values: dict[str, str] | None = None,
    errors: Sequence[scoring.AnswerError] = (),
) -> HTMLResponse:
    by_item: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        item_id = error.loc[-1] if len(error.loc) == 2 else None
        if item_id is not None and form.definition.item(item_id) is not None:
            by_item.setdefault(item_id, error.msg)
        else:
            general.append("The form had a field we do not ask about; please answer again.")
    return page(
        "checkin_form.html",
        status_code,
        first_name=form.first_name,
        clinic=form.clinic,
        definition=form.definition,
        values=values or {},
        errors=by_item,
        general=sorted(set(general)),
    )


@router.get(CHECKIN_PATH, response_class=HTMLResponse, responses=_PAGES)
async def show_checkin(
    token: Token, session: SessionDep, settings: SettingsDep, client: ClientDep
) -> HTMLResponse:
    """The check-in questions. Opening the link changes nothing: link scanners open links
    too."""
    try:
        form = await answering.show(
            session, token, settings=settings, client=client, now=clock.utcnow()
        )
    except (NotFound, Gone) as error:
        return _PAGES_OF.refusal(error)
    return _form_page(form)


def _problem(request: Request, status: int, code: str, title: str, **extra: Any) -> JSONResponse:
    return problem_response(request, status=status, code=code, title=title, **extra)


async def _json_answers(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, client: ClientDep
) -> Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            return _problem(
                request,
                422,
                ValidationFailed.code,
                ValidationFailed.title,
                detail=f"The body is larger than {MAX_JSON_BYTES} bytes.",
            )
    try:
        submission = Submission.model_validate_json(bytes(body))
    except ValidationError as error:
        # Where and what only: echoing the input could put patient data in logs.
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        return _problem(request, 422, ValidationFailed.code, ValidationFailed.title, errors=errors)
    try:
        thanks = await answering.submit(
            session,
            token,
            submission.answers,
            encoding="json",
            settings=settings,
            client=client,
            now=clock.utcnow(),
        )
    except answering.AnswersInvalid as invalid:
        errors = [{**e.as_dict(), "loc": ["body", *e.loc]} for e in invalid.errors]
        return _problem(
            request,
            422,
            ValidationFailed.code,
            ValidationFailed.title,
            detail="Some answers are invalid.",
            errors=errors,
        )
    return JSONResponse(Answered(red_flag=thanks.red_flag).model_dump())


@router.post(
    CHECKIN_PATH,
    response_class=HTMLResponse,
    responses=_ANSWERS,
    openapi_extra=_BODY,
)
async def answer_checkin(
    token: Token,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Send the answers; the link then stops working. A form gets pages back, JSON gets
    JSON (``{"status": "answered", "red_flag": …}``) and problem documents."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == JSON:
        return await _json_answers(request, token, session, settings, client)
    # Read by hand, not as Form parameters: a bad form must get a page, not JSON.
    try:
        form = await small_form(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FIELDS)
    except FormRefused:
        return page("checkin_unreadable.html", 422)
    try:
        thanks = await answering.submit(
            session,
            token,
            form,
            encoding="form",
            settings=settings,
            client=client,
            now=clock.utcnow(),
        )
    except (NotFound, Gone) as error:
        return _PAGES_OF.refusal(error)
    except answering.AnswersInvalid as invalid:
        return _form_page(invalid.form, 422, values=form, errors=invalid.errors)
    return page(
        "checkin_thanks.html",
        first_name=thanks.first_name,
        clinic=thanks.clinic,
        phone=thanks.phone,
        phone_e164=thanks.phone_e164,
        red_flag=thanks.red_flag,
    )
