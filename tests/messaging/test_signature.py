"""Webhook signatures, against Twilio's published example and an independent computation."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.messaging.signature import expected_signature, valid_signature

# The example from Twilio's webhook security documentation and its helper libraries' tests.
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TOKEN = "12345"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_example_vector() -> None:
    assert expected_signature(URL, PARAMS, TOKEN) == EXPECTED
    assert valid_signature(URL, PARAMS, TOKEN, EXPECTED)


def test_parameter_order_does_not_matter() -> None:
    shuffled = dict(reversed(list(PARAMS.items())))
    assert expected_signature(URL, shuffled, TOKEN) == EXPECTED


def test_independent_computation_with_non_ascii() -> None:
    params = {"Body": "Sí, confirmo ✓", "From": "+34600000000", "AccountSid": "AC1"}
    payload = "https://clinic.test/hooks/sms" + "AccountSidAC1" + "BodySí, confirmo ✓"
    payload += "From+34600000000"
    digest = hmac.new(b"secret", payload.encode("utf-8"), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    assert expected_signature("https://clinic.test/hooks/sms", params, "secret") == expected


def test_no_params_signs_the_url_alone() -> None:
    digest = hmac.new(b"t", b"https://x.test/a?b=1", hashlib.sha1).digest()
    assert expected_signature("https://x.test/a?b=1", {}, "t") == base64.b64encode(digest).decode()


def test_invalid_signatures() -> None:
    assert not valid_signature(URL, PARAMS, TOKEN, None)
    assert not valid_signature(URL, PARAMS, TOKEN, "")
    assert not valid_signature(URL, PARAMS, "54321", EXPECTED)  # another account's token
    assert not valid_signature(URL, PARAMS, "", expected_signature(URL, PARAMS, ""))
    assert not valid_signature(URL + "&baz=3", PARAMS, TOKEN, EXPECTED)  # another URL
    assert not valid_signature(URL, {**PARAMS, "Digits": "9999"}, TOKEN, EXPECTED)
    assert not valid_signature(URL, PARAMS, TOKEN, EXPECTED.lower())
    assert not valid_signature(URL, PARAMS, TOKEN, "ünïcode≠ascii")  # no TypeError
