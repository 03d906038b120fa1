"""How many SMS segments a text costs (GSM 03.38 / 3GPP TS 23.038).

A text made only of GSM-7 characters travels as 7-bit septets: 160 in a single message,
153 per part once it is split (the rest of each part holds the concatenation header). One
character outside the alphabet (an emoji, a curly quote, "ł") switches the whole text to
UCS-2: 70 UTF-16 code units single, 67 per part. Templates are checked with this so a
reminder does not silently cost three segments instead of one.
"""

from __future__ import annotations

# The default alphabet; "\x1b" (escape to the extension table) is left out on purpose:
# it is not a character a message can contain.
_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, so it costs two septets.
_EXTENSION = frozenset("\f^{}\\[~]|€")

_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 basic set or its extension table."""
    return all(char in _BASIC or char in _EXTENSION for char in text)


def _pack(costs: list[int], single: int, part: int) -> int:
    """Parts needed when no character (an escape pair, a surrogate pair) may be split
    across two parts, which is how phones and providers cut long texts."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def segments(text: str) -> int:
    """Segments the text is sent as. The empty text is 0 segments: there is nothing to
    send (providers refuse an empty body rather than bill one segment for it)."""
    if not text:
        return 0
    if is_gsm7(text):
        return _pack([2 if char in _EXTENSION else 1 for char in text], _GSM_SINGLE, _GSM_PART)
    # UCS-2 counts UTF-16 code units: a character beyond the BMP (most emoji) costs two.
    return _pack([1 if ord(char) < 0x10000 else 2 for char in text], _UCS2_SINGLE, _UCS2_PART)
