"""Twilio's webhook signature (the ``X-Twilio-Signature`` header).

The provider signs each webhook (a delivery status, a patient's reply such as STOP) with
HMAC-SHA1 keyed by the account's auth token over the full URL it called followed by every
POST parameter as name + value, sorted by name. Without checking it, anyone who learns the
webhook URL could mark messages delivered or unsubscribe patients.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def expected_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """The signature the provider sends for a POST to ``url`` with form ``params``.

    ``url`` must be exactly the URL the provider was configured with (scheme, host, port,
    path and query string as it called it), not one rebuilt behind a proxy.
    """
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_signature(
    url: str, params: Mapping[str, str], auth_token: str, signature: str | None
) -> bool:
    """Whether ``signature`` (the header's value) matches; a missing one never does."""
    if not signature or not auth_token:
        return False
    expected = expected_signature(url, params, auth_token)
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forged header may hold any.
    return hmac.compare_digest(expected.encode(), signature.encode())
