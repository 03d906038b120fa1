"""How many SMS segments a text takes (GSM 03.38 7-bit alphabet, else UCS-2)."""

from __future__ import annotations

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "^{}\\[~]|€\f"  # two septets each (escape + character)
_BASIC, _EXTENSION = frozenset(BASIC), frozenset(EXTENSION)


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXTENSION for c in text)


def segments(text: str) -> int:
    """1 for an empty text. GSM-7: 160 septets alone, 153 per part; UCS-2: 70 / 67."""
    if is_gsm7(text):
        length, single, part = sum(2 if c in _EXTENSION else 1 for c in text), 160, 153
    else:
        length, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // part)
