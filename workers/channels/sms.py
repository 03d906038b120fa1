"""Text messages through a provider speaking Twilio's Messages REST API (httpx).

The base URL is a setting, so tests (and other providers with the same API) point it at
their own server.
"""

from __future__ import annotations

import httpx

from services.core.settings import Settings
from workers.channels.base import Outgoing, SendFailure

# Twilio error codes that no retry can fix: invalid or non-mobile number, unsubscribed.
PERMANENT_CODES = frozenset({21211, 21214, 21408, 21610, 21612, 21614})
TIMEOUT_SECONDS = 10.0


def send_sms(outgoing: Outgoing, settings: Settings, client: httpx.Client | None = None) -> str:
    """Answers the provider's message id (``SM…``)."""
    sid = settings.sms_account_sid or ""
    url = f"{settings.sms_base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS)
    try:
        response = http.post(
            url,
            data={"To": outgoing.to, "From": settings.sms_from or "", "Body": outgoing.body},
            auth=(sid, settings.sms_auth_token or ""),
            headers={"Idempotency-Key": str(outgoing.message_id)},
        )
    except httpx.HTTPError as error:
        raise SendFailure(type(error).__name__, permanent=False) from None
    finally:
        if own:
            http.close()
    if response.status_code in (200, 201):
        return str(response.json()["sid"])
    code = _error_code(response)
    raise SendFailure(
        f"sms-{code}" if code else f"sms-http-{response.status_code}",
        permanent=code in PERMANENT_CODES,
    )


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return code if isinstance(code, int) else None
