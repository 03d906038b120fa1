"""Text messages through the Twilio Messages REST API (or anything speaking its subset).

Error bodies quote the phone number ("The 'To' number +1… is not valid"), so only the
numeric error code is kept, and failures are raised ``from None`` so no traceback carries
the request either.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from services.core.settings import Settings
from services.messaging.channels import Outgoing, SendFailure

TIMEOUT_SECONDS = 10.0

# Twilio error codes about the recipient, which no retry changes: invalid number (21211),
# number not reachable / permission to region (21408), not a mobile number (21614), and
# the patient replied STOP (21610).
PERMANENT_ERRORS = frozenset({21211, 21408, 21610, 21614})


def messages_url(settings: Settings, account_sid: str) -> str:
    base = settings.sms_base_url.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"


def _error_code(response: httpx.Response) -> int | None:
    """Twilio's numeric ``code`` from an error body, if there is one."""
    try:
        payload = response.json()
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    # Only an int: anything else could be text, and text may quote the number.
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _failure(response: httpx.Response) -> SendFailure:
    status = response.status_code
    code = _error_code(response) if 400 <= status < 500 else None
    if status == 400 and code in PERMANENT_ERRORS:
        return SendFailure(f"sms-{code}", permanent=True)
    # Everything else may pass later: 401 (a token being rotated), 429, 5xx, other 4xx.
    # "sms-http-401-20003": the status to match on, the provider's code to look up.
    suffix = f"-{code}" if code is not None else ""
    return SendFailure(f"sms-http-{status}{suffix}", permanent=False)


def _sid(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    sid = payload.get("sid") if isinstance(payload, dict) else None
    if not isinstance(sid, str) or not sid:
        # The provider said yes but we cannot tell to what. Not retried: it may well have
        # been accepted, and sending twice is worse than a failure staff can look at.
        raise SendFailure("sms-bad-response", permanent=True)
    return sid


def send_sms(outgoing: Outgoing, settings: Settings, client: httpx.Client | None = None) -> str:
    """Send one text; returns the provider's message sid (``SM…``).

    ``client`` lets a worker reuse one connection pool; without it a client is opened and
    closed for this message.
    """
    sid, token, sender = settings.sms_account_sid, settings.sms_auth_token, settings.sms_from
    if not (sid and token and sender):
        # The operator's to fix; transient so nothing is lost meanwhile.
        raise SendFailure("sms-not-configured", permanent=False)
    url = messages_url(settings, sid)
    form = {"To": outgoing.to, "From": sender, "Body": outgoing.body}
    # A retry after a lost reply carries the same key; providers honouring it send once.
    headers = {"Idempotency-Key": str(outgoing.message_id)}
    try:
        if client is None:
            with httpx.Client(timeout=TIMEOUT_SECONDS) as own:
                response = own.post(url, data=form, auth=(sid, token), headers=headers)
        else:
            response = client.post(
                url, data=form, auth=(sid, token), headers=headers, timeout=TIMEOUT_SECONDS
            )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        # Connect errors, timeouts, dropped connections, a mistyped base URL: try again later.
        raise SendFailure(type(error).__name__, permanent=False) from None
    if response.status_code in (200, 201):
        return _sid(response)
    raise _failure(response)
