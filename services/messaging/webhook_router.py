"""POST /webhooks/sms: the SMS provider delivers the texts patients send to the clinic.

No sign-in: the provider's signature (X-Twilio-Signature) is the credential.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from services.core import clock
from services.core.deps import ClientDep, SessionDep, SettingsDep
from services.core.errors import ValidationFailed
from services.core.forms import FormRefused, form_body, small_form
from services.messaging import webhook

router = APIRouter(tags=["webhooks"])

_FORM = form_body(
    {
        "type": "object",
        "required": ["MessageSid", "From", "Body"],
        "properties": {
            "MessageSid": {"type": "string", "maxLength": 64},
            "From": {"type": "string", "maxLength": 20},
            "To": {"type": "string"},
            "Body": {"type": "string"},
        },
        "additionalProperties": {"type": "string"},
    }
)
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Received (or received before: a retry changes nothing)",
        "content": {"text/xml": {"schema": {"type": "string"}}},
    },
    403: {"description": "No valid provider signature (or no auth token configured)"},
    422: {
        "description": "Not a small urlencoded form, or MessageSid, From or Body is missing or"
        " too long"
    },
}


@router.post(webhook.WEBHOOK_PATH, response_class=Response, responses=_ANSWERS, openapi_extra=_FORM)
async def inbound_sms(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    signature: Annotated[str | None, Header(alias="X-Twilio-Signature")] = None,
) -> Response:
    """A text from a patient: C/YES confirms their next visit, STOP withdraws SMS consent,
    anything else is kept for the front desk. Answers empty TwiML (no automatic reply)."""
    webhook.expect_signature(settings, signature)
    try:
        params = await small_form(request)
    except FormRefused:
        raise ValidationFailed(
            "Expected a small application/x-www-form-urlencoded body.",
            errors=[{"loc": ["body"], "msg": "not a small urlencoded form", "type": "form"}],
        ) from None
    webhook.authenticate(settings, params, signature)
    inbound = webhook.parse(params)
    await webhook.receive(session, inbound, client=client, now=clock.utcnow())
    return Response(webhook.EMPTY_TWIML, media_type="text/xml")
