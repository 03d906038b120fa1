"""The permission matrix: every route, who may call it, checked for every role.

A new route fails ``test_every_route_is_in_the_matrix`` until it gets a row here, so no
endpoint ships without a decision about who may use it (DESIGN.md, "Roles").
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.app import create_app
from services.core.auth.roles import Role
from services.core.settings import Settings
from tests.factories import Factory

PUBLIC = "public"  # no sign-in
# No sign-in either, but the SMS provider's signature is the credential: without it every
# caller is a 403, staff included (the test settings configure no auth token).
PROVIDER_SIGNED = "provider-signed"
ANY_STAFF = frozenset(Role)
ADMIN = frozenset({Role.admin})
# Role level only: which chiropractor (the practitioner themself) is checked per object,
# after the 404 for an unknown id (tests/appointments/test_feeds.py covers the 403).
FEED_OWNER_OR_ADMIN = frozenset({Role.chiropractor, Role.admin})
CHIROPRACTOR = frozenset({Role.chiropractor})

MATRIX: dict[tuple[str, str], str | frozenset[Role]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ANY_STAFF,
    ("GET", "/api/v1/me"): ANY_STAFF,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/audit-events"): ADMIN,
    # Clinic setup: every signed-in staff member reads, admins write.
    ("GET", "/api/v1/locations"): ANY_STAFF,
    ("POST", "/api/v1/locations"): ADMIN,
    ("GET", "/api/v1/locations/{location_id}"): ANY_STAFF,
    ("PATCH", "/api/v1/locations/{location_id}"): ADMIN,
    ("GET", "/api/v1/locations/{location_id}/rooms"): ANY_STAFF,
    ("POST", "/api/v1/locations/{location_id}/rooms"): ADMIN,
    ("PATCH", "/api/v1/rooms/{room_id}"): ADMIN,
    ("GET", "/api/v1/locations/{location_id}/message-settings"): ANY_STAFF,
    ("PUT", "/api/v1/locations/{location_id}/message-settings"): ADMIN,
    ("GET", "/api/v1/locations/{location_id}/closures"): ANY_STAFF,
    ("POST", "/api/v1/locations/{location_id}/closures"): ADMIN,
    ("DELETE", "/api/v1/closures/{closure_id}"): ADMIN,
    ("GET", "/api/v1/locations/{location_id}/online-booking"): ANY_STAFF,
    ("PUT", "/api/v1/locations/{location_id}/online-booking"): ADMIN,
    ("GET", "/api/v1/online-booking/blocked"): ADMIN,
    ("POST", "/api/v1/online-booking/blocked"): ADMIN,
    ("DELETE", "/api/v1/online-booking/blocked/{entry_id}"): ADMIN,
    ("GET", "/api/v1/practitioners"): ANY_STAFF,
    ("POST", "/api/v1/practitioners"): ADMIN,
    ("GET", "/api/v1/practitioners/{practitioner_id}"): ANY_STAFF,
    ("PATCH", "/api/v1/practitioners/{practitioner_id}"): ADMIN,
    ("GET", "/api/v1/practitioners/{practitioner_id}/working-hours"): ANY_STAFF,
    ("PUT", "/api/v1/practitioners/{practitioner_id}/working-hours"): ADMIN,
    ("GET", "/api/v1/practitioners/{practitioner_id}/exceptions"): ANY_STAFF,
    ("POST", "/api/v1/practitioners/{practitioner_id}/exceptions"): ADMIN,
    ("DELETE", "/api/v1/schedule-exceptions/{exception_id}"): ADMIN,
    ("GET", "/api/v1/appointment-types"): ANY_STAFF,
    ("POST", "/api/v1/appointment-types"): ADMIN,
    ("GET", "/api/v1/appointment-types/{type_id}"): ANY_STAFF,
    ("PATCH", "/api/v1/appointment-types/{type_id}"): ADMIN,
    # patients: demographics are read and written by every staff role (DESIGN.md roles)
    ("GET", "/api/v1/patients"): ANY_STAFF,
    ("POST", "/api/v1/patients"): ANY_STAFF,
    ("GET", "/api/v1/patients/{patient_id}"): ANY_STAFF,
    ("PATCH", "/api/v1/patients/{patient_id}"): ANY_STAFF,
    ("POST", "/api/v1/patients/{patient_id}/archive"): ANY_STAFF,
    ("POST", "/api/v1/patients/{patient_id}/restore"): ANY_STAFF,
    ("GET", "/api/v1/patients/{patient_id}/consents"): ANY_STAFF,
    ("POST", "/api/v1/patients/{patient_id}/consents"): ANY_STAFF,
    # scheduling: the front desk's tool, used by every staff role (DESIGN.md roles);
    # allow_overlap is further limited to chiropractors and admins inside the route.
    ("GET", "/api/v1/availability"): ANY_STAFF,
    ("GET", "/api/v1/schedule"): ANY_STAFF,
    ("POST", "/api/v1/appointments"): ANY_STAFF,
    ("GET", "/api/v1/appointments"): ANY_STAFF,
    ("GET", "/api/v1/appointments/{appointment_id}"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/confirm"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/check-in"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/start"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/complete"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/no-show"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/cancel"): ANY_STAFF,
    ("POST", "/api/v1/appointments/{appointment_id}/reschedule"): ANY_STAFF,
    ("POST", "/api/v1/appointment-series"): ANY_STAFF,
    ("POST", "/api/v1/appointment-series/{series_id}/cancel"): ANY_STAFF,
    ("POST", "/api/v1/appointment-series/{series_id}/move"): ANY_STAFF,
    # calendar feeds: managed by the practitioner themself or an admin; the secret address
    # itself needs no sign-in (the token is the credential)
    ("POST", "/api/v1/practitioners/{practitioner_id}/calendar-feeds"): FEED_OWNER_OR_ADMIN,
    ("GET", "/api/v1/practitioners/{practitioner_id}/calendar-feeds"): FEED_OWNER_OR_ADMIN,
    ("DELETE", "/api/v1/calendar-feeds/{feed_id}"): FEED_OWNER_OR_ADMIN,
    ("GET", "/ical/{token}.ics"): PUBLIC,
    # waitlist: every staff role, like the patient data it holds
    ("POST", "/api/v1/waitlist"): ANY_STAFF,
    ("GET", "/api/v1/waitlist"): ANY_STAFF,
    ("DELETE", "/api/v1/waitlist/{entry_id}"): ANY_STAFF,
    # visit notes: clinical content for chiropractors only; every staff role sees that a
    # note exists and its status (DESIGN.md roles)
    ("GET", "/api/v1/notes"): ANY_STAFF,
    ("POST", "/api/v1/notes"): CHIROPRACTOR,
    ("GET", "/api/v1/notes/{note_id}"): CHIROPRACTOR,
    ("PATCH", "/api/v1/notes/{note_id}"): CHIROPRACTOR,
    ("DELETE", "/api/v1/notes/{note_id}"): CHIROPRACTOR,
    ("POST", "/api/v1/notes/{note_id}/sign"): CHIROPRACTOR,
    ("POST", "/api/v1/notes/{note_id}/addenda"): CHIROPRACTOR,
    ("GET", "/api/v1/notes/{note_id}/revisions"): CHIROPRACTOR,
    ("GET", "/api/v1/patients/{patient_id}/timeline"): ANY_STAFF,
    ("GET", "/api/v1/patients/{patient_id}/observations"): CHIROPRACTOR,
    ("GET", "/api/v1/patients/{patient_id}/outcomes"): CHIROPRACTOR,
    ("GET", "/api/v1/patients/{patient_id}/outcomes.png"): CHIROPRACTOR,
    ("GET", "/api/v1/appointment-types/{type_id}/note-template"): CHIROPRACTOR,
    ("PUT", "/api/v1/appointment-types/{type_id}/note-template"): CHIROPRACTOR,
    # messaging: the patient's confirm/cancel page (the token in the link is the credential),
    # the SMS provider's webhook, and the front desk's views of messages (every staff role)
    ("GET", "/a/{token}"): PUBLIC,
    ("POST", "/a/{token}"): PUBLIC,
    # check-ins: the patient's check-in form, the token in the invitation its credential
    ("GET", "/c/{token}"): PUBLIC,
    ("POST", "/c/{token}"): PUBLIC,
    # Online booking pages: no sign-in; the request's token is its credential.
    ("GET", "/book"): PUBLIC,
    ("GET", "/book/{location_id}"): PUBLIC,
    ("GET", "/book/{location_id}/times"): PUBLIC,
    ("POST", "/book/{location_id}/hold"): PUBLIC,
    ("GET", "/book/r/{token}"): PUBLIC,
    ("POST", "/book/r/{token}"): PUBLIC,
    ("GET", "/book/r/{token}/code"): PUBLIC,
    ("POST", "/book/r/{token}/code"): PUBLIC,
    ("POST", "/webhooks/sms"): PROVIDER_SIGNED,
    ("GET", "/api/v1/messages"): ANY_STAFF,
    ("GET", "/api/v1/inbound-sms"): ANY_STAFF,
    # check-in alerts: clinical data, chiropractors only
    ("GET", "/api/v1/alerts"): CHIROPRACTOR,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): CHIROPRACTOR,
    # check-in policies: clinic settings, admins only
    ("GET", "/api/v1/checkin-policies"): ADMIN,
    ("GET", "/api/v1/checkin-policies/effective"): ADMIN,
    ("PUT", "/api/v1/checkin-policies"): ADMIN,
    ("DELETE", "/api/v1/checkin-policies/{policy_id}"): ADMIN,
    # check-ins: every staff role sees status (sent, answered); the answers are clinical,
    # chiropractors only (DESIGN.md roles)
    ("GET", "/api/v1/checkins"): ANY_STAFF,
    ("GET", "/api/v1/checkins/{checkin_id}"): CHIROPRACTOR,
}

IDENTITIES: list[Role | None] = [None, *Role]


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_is_in_the_matrix(settings: Settings) -> None:
    routes = _routes(create_app(settings))
    assert routes - MATRIX.keys() == set(), "routes without a row in MATRIX"
    assert MATRIX.keys() - routes == set(), "rows in MATRIX for routes that do not exist"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.value if i else "anonymous")
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=lambda v: str(v))
async def test_route_admits_exactly_its_roles(
    client: httpx.AsyncClient, factory: Factory, method: str, path: str, identity: Role | None
) -> None:
    allowed = MATRIX[(method, path)]
    headers = (await factory.staff(identity)).headers if identity else {}
    response = await client.request(method, _concrete(path), headers=headers, json={})
    if allowed == PUBLIC:
        assert response.status_code not in (401, 403)
    elif allowed == PROVIDER_SIGNED:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    elif identity is None:
        assert response.status_code == 401
    elif identity in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
