"""The public booking pages at /book: no sign-in, no script, plain forms, phone-first.

    /book                        the clinics that take bookings online
    /book/{location}             what for, and with whom (or first available)
    /book/{location}/times       a week of free times; each is a button that holds it
    /book/{location}/hold        POST: hold the time, then the details page
    /book/r/{token}              the details form (the token is the request's credential)
    /book/r/{token}/code         the code form: book, send a new code, or another time

Every answer is an HTML page with the protective headers (``core/pages.py``), errors too.
No page names a patient or says who has a time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.clinic.service import closed_dates, closures_between
from services.core import clock
from services.core.database import Database
from services.core.deps import ClientDep, SessionDep, SettingsDep, get_database
from services.core.errors import Conflict, Gone, NotFound
from services.core.forms import FormRefused, form_body, small_form
from services.core.pages import HTML_PAGE, SECURITY_HEADERS, Pages
from services.core.phones import display_phone
from services.messaging.render import when_text
from services.online import catalog, details, flow

router = APIRouter(prefix="/book", tags=["online booking pages"])

DatabaseDep = Annotated[Database, Depends(get_database)]
Token = Annotated[str, Path(description="The booking request's token")]
# Read as text and parsed here: a malformed id is the same "not valid" page, never JSON.
LocationId = Annotated[str, Path(description="The clinic location's id")]


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No such page.") from None


_PAGES = Pages("services.online", gone="book_gone.html")
page = _PAGES.page
WEEK = 7
_HTML: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page", "content": HTML_PAGE},
    404: {"description": "Not valid (whatever the reason)", "content": HTML_PAGE},
}
_FORM_ERRORS: dict[int | str, dict[str, Any]] = {
    **_HTML,
    303: {"description": "On to the next page"},
    409: {
        "description": "The time was taken meanwhile: the nearest free times",
        "content": HTML_PAGE,
    },
    410: {"description": "The time is no longer held", "content": HTML_PAGE},
    422: {"description": "A field to correct, or not a small form", "content": HTML_PAGE},
    429: {"description": "Too many attempts", "content": HTML_PAGE},
}


def _same_site(request: Request, public_url: str) -> bool:
    """A form posted from our own pages: browsers say where a POST comes from, and a hold or
    a code is not something another site may make its visitors' browsers ask for. Ours is
    the Host asked for or ``CLINIC_PUBLIC_URL``'s (a proxy may rewrite Host)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    # Our pages send no referrer, so a browser posts them with ``Origin: null``; then the
    # ``Sec-Fetch-Site`` above is what tells (every current browser sends it).
    if origin is None or origin == "null":
        return True
    ours = {request.headers.get("host", ""), urlsplit(public_url).netloc}
    return urlsplit(origin).netloc in ours


def _next(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def _form(request: Request) -> dict[str, str] | None:
    try:
        return await small_form(request, max_bytes=4096, max_fields=20)
    except FormRefused:
        return None


@router.get("", response_class=HTMLResponse, responses=_HTML)
async def locations(session: SessionDep) -> Response:
    """The clinics taking bookings online (one: straight to it)."""
    found = await catalog.open_locations(session)
    if len(found) == 1:
        return _next(f"/book/{found[0].id}")
    return page("book_locations.html", locations=found)


@router.get("/{location_id}", response_class=HTMLResponse, responses=_HTML)
async def choose(location_id: LocationId, session: SessionDep) -> HTMLResponse:
    """What the visit is for, and with whom."""
    try:
        location, _ = await catalog.open_location(session, _uuid(location_id))
    except NotFound as error:
        return _PAGES.refusal(error)
    return page(
        "book_choose.html",
        location=location,
        kinds=await catalog.bookable_types(session),
        practitioners=await catalog.practitioners(session, location.id),
        phone=display_phone(location.phone),
    )


async def _times_page(
    session: SessionDep,
    location_id: uuid.UUID,
    type_id: uuid.UUID,
    choice: str,
    week: date | None,
    *,
    status_code: int = 200,
    problem: str | None = None,
) -> HTMLResponse:
    location, _ = await catalog.open_location(session, location_id)
    kind = await catalog.bookable_type(session, type_id)
    staff = await catalog.practitioners(session, location.id)
    chosen = [p for p in staff if str(p.id) == choice]
    offered = chosen or staff
    zone = ZoneInfo(location.time_zone)
    now = clock.utcnow()
    low, high = catalog.reach(kind, zone, now)
    # Any week asked for falls within the type's reach (a far date is the last week).
    soonest, latest = low.astimezone(zone).date(), high.astimezone(zone).date()
    first = catalog.week_of(min(max(week or soonest, soonest), latest))
    times = await catalog.free_times(
        session,
        location=location,
        kind=kind,
        practitioner_ids=[p.id for p in offered],
        first_day=first,
        days=WEEK,
        grid=catalog.GRID,
        now=now,
    )
    closed = closed_dates(await closures_between(session, location.id, first, first + timedelta(6)))
    days = []
    for offset in range(WEEK):
        day = first + timedelta(days=offset)
        days.append(
            {
                "label": f"{day:%A, %B} {day.day}",
                "closed": closed[day].reason if day in closed else None,
                "times": [
                    {
                        "label": when_text(t.starts_at, zone).split(" at ")[1],
                        "value": t.starts_at.isoformat(),
                        "practitioner_id": t.practitioner_id,
                    }
                    for t in times
                    if t.starts_at.date() == day
                ],
            }
        )

    def week_link(start: date) -> str:
        query = {"type_id": str(kind.id), "practitioner": choice, "week": start.isoformat()}
        return f"/book/{location.id}/times?{urlencode(query)}"

    earlier = first - timedelta(days=WEEK)
    return page(
        "book_times.html",
        status_code,
        location=location,
        kind=kind,
        who=chosen[0].display_name if chosen else "First available",
        choice=choice,
        days=days,
        problem=problem,
        earlier=week_link(earlier) if first > low.astimezone(zone).date() else None,
        later=week_link(first + timedelta(days=WEEK))
        if first + timedelta(WEEK) < high.astimezone(zone).date()
        else None,
    )


@router.get("/{location_id}/times", response_class=HTMLResponse, responses=_HTML)
async def times(
    location_id: LocationId,
    session: SessionDep,
    type_id: Annotated[str, Query(description="The appointment type's id")],
    practitioner: Annotated[str, Query(description="A practitioner's id, or any")] = "any",
    week: Annotated[str | None, Query(description="A local date, YYYY-MM-DD")] = None,
) -> HTMLResponse:
    """A week of free times (from the week of ``week``, local dates)."""
    try:
        first = date.fromisoformat(week) if week else None
    except ValueError:
        first = None
    try:
        return await _times_page(
            session, _uuid(location_id), _uuid(type_id), practitioner[:40], first
        )
    except NotFound as error:
        return _PAGES.refusal(error)


@router.post(
    "/{location_id}/hold",
    response_class=HTMLResponse,
    responses=_FORM_ERRORS,
    openapi_extra=form_body(
        {
            "type": "object",
            "required": ["type_id", "practitioner_id", "starts_at"],
            "properties": {
                "type_id": {"type": "string", "format": "uuid"},
                "practitioner_id": {"type": "string", "format": "uuid"},
                "starts_at": {"type": "string", "format": "date-time"},
                "choice": {"type": "string"},
            },
        }
    ),
)
async def hold(
    location_id: LocationId,
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Hold the time chosen, then ask for the details."""
    if not _same_site(request, settings.public_url):
        return page("book_unprocessable.html", 422)
    form = await _form(request)
    try:
        location = _uuid(location_id)
    except NotFound as error:
        return _PAGES.refusal(error)
    try:
        if form is None:
            raise ValueError
        type_id = uuid.UUID(form.get("type_id", ""))
        practitioner_id = uuid.UUID(form.get("practitioner_id", ""))
        starts_at = datetime.fromisoformat(form.get("starts_at", ""))
        if starts_at.tzinfo is None:
            raise ValueError
        starts_at.astimezone(UTC)  # a time an offset pushes out of range is no time
    except (ValueError, OverflowError):
        return page("book_unprocessable.html", 422)
    choice = form.get("choice", "any")
    try:
        token = await flow.hold_time(
            session,
            database,
            location_id=location,
            type_id=type_id,
            practitioner_id=practitioner_id,
            starts_at=starts_at,
            client=client,
            user_agent=request.headers.get("user-agent"),
            secret_key=settings.secret_key,
            now=clock.utcnow(),
        )
    except NotFound as error:
        return _PAGES.refusal(error)
    except flow.Refused as error:
        return page("book_refused.html", 429, problem=error.detail)
    except flow.Unavailable as error:
        zone = ZoneInfo((await catalog.open_location(session, location))[0].time_zone)
        try:
            week: date | None = starts_at.astimezone(zone).date()
        except OverflowError:
            week = None
        return await _times_page(
            session,
            location,
            type_id,
            choice,
            week,
            status_code=409,
            problem=f"{error.detail} Here are the free times that week.",
        )
    return _next(f"/book/r/{token}")


def _details_page(
    held: flow.Held, token: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return page(
        "book_details.html",
        status_code,
        token=token,
        when=when_text(held.starts_at, held.zone, long=True),
        until=when_text(held.request.expires_at, held.zone).split(" at ")[1],
        kind=held.kind,
        practitioner=held.practitioner,
        location=held.location,
        fields=details.FIELDS,
        values=context.pop("values", {}),
        errors=context.pop("errors", {}),
    )


@router.get("/r/{token}", response_class=HTMLResponse, responses={**_HTML, 410: _FORM_ERRORS[410]})
async def details_form(token: Token, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    try:
        held = await flow.find(session, token, secret_key=settings.secret_key, now=clock.utcnow())
    except (NotFound, Gone) as error:
        return _PAGES.refusal(error)
    return _details_page(held, token)


@router.post(
    "/r/{token}",
    response_class=HTMLResponse,
    responses=_FORM_ERRORS,
    openapi_extra=form_body({"type": "object"}),
)
async def give_details(
    token: Token,
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Check the details and send a code; a field to correct shows the form again."""
    if not _same_site(request, settings.public_url):
        return page("book_unprocessable.html", 422)
    now = clock.utcnow()
    try:
        held = await flow.find(session, token, secret_key=settings.secret_key, now=now)
    except (NotFound, Gone) as error:
        return _PAGES.refusal(error)
    form = await _form(request)
    if form is None:
        return page("book_unprocessable.html", 422)
    checked = details.check(form, now.astimezone(held.zone).date())
    if checked.applicant is None:
        return _details_page(held, token, 422, values=form, errors=checked.errors)
    try:
        await flow.give_details(
            session,
            database,
            token,
            checked.applicant,
            honeypot=checked.honeypot,
            language="en",
            client=client,
            secret_key=settings.secret_key,
            now=now,
        )
    except (NotFound, Gone) as error:
        return _PAGES.refusal(error)
    except flow.Refused as error:
        return page("book_refused.html", 429, problem=error.detail)
    except flow.ContactLocked as error:
        errors = {str(error.extra["field"]): error.detail or ""}
        return _details_page(held, token, 422, values=form, errors=errors)
    return _next(f"/book/r/{token}/code")


def _code_page(held: flow.Held, status_code: int = 200, problem: str | None = None) -> HTMLResponse:
    request = held.request
    if request.channel == "sms" and request.phone:
        where = f"your phone ending {request.phone[-2:]}"
    else:
        where = "your email"
    return page(
        "book_code.html",
        status_code,
        where=where,
        until=when_text(request.expires_at, held.zone).split(" at ")[1],
        when=when_text(held.starts_at, held.zone, long=True),
        problem=problem,
    )


@router.get(
    "/r/{token}/code", response_class=HTMLResponse, responses={**_HTML, 410: _FORM_ERRORS[410]}
)
async def code_form(token: Token, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        held = await flow.find(session, token, secret_key=settings.secret_key, now=clock.utcnow())
    except (NotFound, Gone) as error:
        return _PAGES.refusal(error)
    if held.request.code_nonce is None:
        return _next(f"/book/r/{token}")
    return _code_page(held)


@router.post(
    "/r/{token}/code",
    response_class=HTMLResponse,
    responses=_FORM_ERRORS,
    openapi_extra=form_body(
        {
            "type": "object",
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": ["verify", "resend", "another_time"]},
                "code": {"type": "string"},
            },
        }
    ),
)
async def use_code(
    token: Token,
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Book with the code, send a new one, or give the time back to choose another."""
    if not _same_site(request, settings.public_url):
        return page("book_unprocessable.html", 422)
    now = clock.utcnow()
    form = await _form(request)
    if form is None or form.get("action") not in ("verify", "resend", "another_time"):
        return page("book_unprocessable.html", 422)
    try:
        held = await flow.find(session, token, secret_key=settings.secret_key, now=now)
        action = form["action"]
        if action == "another_time":
            await flow.let_go(session, token, secret_key=settings.secret_key, now=now)
            return _next(f"/book/{held.location.id}")
        if action == "resend":
            who = flow.applicant_of(held)
            if who is None:
                return _next(f"/book/r/{token}")
            held = await flow.give_details(
                session,
                database,
                token,
                who,
                honeypot=False,
                language=held.request.language,
                client=client,
                secret_key=settings.secret_key,
                now=now,
            )
            return _code_page(held, problem="We sent you a new code.")
        outcome = await flow.verify(
            session,
            token,
            form.get("code", ""),
            secret_key=settings.secret_key,
            client=client,
            now=now,
        )
    except (NotFound, Gone) as error:
        return _PAGES.refusal(error)
    except flow.Refused as error:
        return page("book_refused.html", 429, problem=error.detail)
    except Conflict as error:
        # The patient already has a visit then: nothing of this attempt is kept.
        await session.rollback()
        return page("book_refused.html", 409, problem=error.detail)
    if isinstance(outcome, int):
        left = "1 try" if outcome == 1 else f"{outcome} tries"
        return _code_page(held, 422, problem=f"That code is not right; {left} left.")
    return page(
        "book_done.html",
        first_name=outcome.first_name,
        when=when_text(outcome.starts_at, held.zone, long=True),
        kind=outcome.kind,
        practitioner=outcome.practitioner,
        location=outcome.location,
        address=outcome.location.address,
    )
