"""ICD-10-CM diagnosis codes, validated against the code list shipped in
``simple-icd-10-cm`` (the CMS tabular list), so a typo cannot reach a signed note."""

from __future__ import annotations

import re

import simple_icd_10_cm as cm

_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalise(code: str) -> str:
    """``g43909`` or ``G43.909`` → ``G43.909`` (dotted, upper case)."""
    value = code.strip().upper()
    if "." not in value and len(value) > 3:
        value = f"{value[:3]}.{value[3:]}"
    return value


def check(code: str) -> tuple[str, str]:
    """The normalised code and its description; ValueError when it is not a billable code."""
    value = normalise(code)
    if not _SHAPE.match(value) or not cm.is_valid_item(value):
        raise ValueError(f"{code!r} is not an ICD-10-CM code")
    if not cm.is_leaf(value):
        raise ValueError(f"{value} is a category; use a complete (billable) code below it")
    return value, cm.get_description(value)
