"""SMS segment counting: GSM-7 vs UCS-2, single vs concatenated parts."""

from __future__ import annotations

import pytest

from services.messaging.gsm import is_gsm7, segments


@pytest.mark.parametrize(
    "text",
    ["", "Hello, see you at 10:30!", "Café à Zürich: Ñ ß Δ @ £ ¥ §", "{[~^|\\]}€", "a\nb\r\f"],
)
def test_gsm7_texts(text: str) -> None:
    assert is_gsm7(text)


@pytest.mark.parametrize("text", ["Łódź", "“quoted”", "see you 🙂", "ç", "naïve", "\t"])
def test_texts_outside_the_alphabet(text: str) -> None:
    assert not is_gsm7(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters cost two septets each: 160
        ("€" * 81, 2),
        ("a" * 152 + "€", 1),  # 154 septets fit one single message
        ("a" * 158 + "€", 1),  # exactly 160
        ("a" * 159 + "€", 2),  # 161
    ],
)
def test_gsm7_segments(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_an_escape_pair_is_not_split_across_parts() -> None:
    # 152 septets, then "€" (2) would straddle the 153-septet boundary: it moves to part 2,
    # and part 2 then holds 2 + 152 = 154 > 153 septets, so a third part is needed.
    assert segments("a" * 152 + "€" + "a" * 152) == 3
    assert segments("a" * 153 + "€" + "a" * 151) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ł" * 70, 1),
        ("ł" * 71, 2),
        ("ł" * 134, 2),
        ("ł" * 135, 3),
        ("🙂" * 35, 1),  # each emoji is two UTF-16 code units
        ("🙂" * 36, 2),
        ("a" * 159 + "ł", 3),  # one character switches the whole text to UCS-2: 160 / 67
    ],
)
def test_ucs2_segments(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_a_surrogate_pair_is_not_split_across_parts() -> None:
    # 66 units then an emoji (2) would cross the 67-unit boundary: it starts part 2.
    assert segments("ł" * 66 + "🙂" + "ł" * 65) == 2
    assert segments("ł" * 66 + "🙂" + "ł" * 66) == 3
