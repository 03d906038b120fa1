"""Scoring of check-in answers: pure functions, no database.

``answers`` is the patient's submission as a JSON object: item id → value. ``validate``
lists every problem with the item id as its field path (``("answers", item_id)``), shaped
like the ``{loc, msg, type}`` details of a 422. ``observations`` turns valid answers into
outcome-series values (stored later as observations with source ``checkin``), and
``alerts_for`` decides which answers the chiropractor must see.

Alert rules:

- any red-flag item answered "yes" → ``urgent``, reason ``red_flag:<item id>``;
- pain (the item coded ``pain_nrs``) at least 3 points above the patient's baseline →
  ``normal``, reason ``pain_worse:<item id>`` (no baseline, no pain alert);
- PGIC (the item coded ``pgic``) 6 "much worse" or 7 "very much worse" → ``normal``,
  reason ``pgic_worse:<item id>``.

Rules find their items by observation code, not by item id, so a later questionnaire
version keeps them as long as it keeps the codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from services.checkins.questionnaire import (
    NRS_MAX,
    NRS_MIN,
    ChoiceItem,
    CountItem,
    Item,
    NrsItem,
    Questionnaire,
    TextItem,
    YesNoItem,
)

Severity = Literal["urgent", "normal"]

PAIN_CODE = "pain_nrs"
PGIC_CODE = "pgic"
PAIN_RISE = 3  # points on the 0-10 scale above baseline that count as worse
PGIC_WORSE = frozenset({6, 7})  # "much worse", "very much worse"


@dataclass(frozen=True)
class AnswerError:
    loc: tuple[str, ...]
    msg: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class InvalidAnswers(ValueError):
    def __init__(self, errors: list[AnswerError]) -> None:
        super().__init__(f"{len(errors)} invalid answer(s)")
        self.errors = errors


class ObservationValue(NamedTuple):
    code: str
    value: Decimal
    unit: str


class Alert(NamedTuple):
    severity: Severity
    reason: str


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_item(item: Item, value: object) -> tuple[str, str] | None:
    """The (type, message) of what is wrong with one present answer, or None."""
    if isinstance(item, NrsItem | CountItem):
        high = NRS_MAX if isinstance(item, NrsItem) else item.max
        low = NRS_MIN if isinstance(item, NrsItem) else 0
        if not _is_int(value):
            return "int_type", "Enter a whole number."
        assert isinstance(value, int)
        if value < low:
            return "greater_than_equal", f"Enter a number from {low} to {high}."
        if value > high:
            return "less_than_equal", f"Enter a number from {low} to {high}."
        return None
    if isinstance(item, ChoiceItem):
        if not _is_int(value) or value not in {option.value for option in item.options}:
            return "enum", "Choose one of the options."
        return None
    if isinstance(item, YesNoItem):
        if not isinstance(value, bool):
            return "bool_type", "Answer yes or no."
        return None
    if not isinstance(value, str):
        return "string_type", "Enter text."
    if len(value) > item.max_length:
        return "string_too_long", f"Use at most {item.max_length} characters."
    return None


def _blank(item: Item, value: object) -> bool:
    return value is None or (
        isinstance(item, TextItem) and isinstance(value, str) and not value.strip()
    )


def validate(answers: object, definition: Questionnaire) -> list[AnswerError]:
    """Every problem with a submission; an empty list means it is valid."""
    if not isinstance(answers, Mapping):
        return [AnswerError(("answers",), "Answers must be an object.", "dict_type")]
    errors: list[AnswerError] = []
    known = {item.id for item in definition.items}
    for key in answers:
        if key not in known:
            errors.append(
                AnswerError(("answers", str(key)), "This question is not asked.", "extra_forbidden")
            )
    for item in definition.items:
        value = answers.get(item.id)
        if _blank(item, value):
            if item.required:
                errors.append(AnswerError(("answers", item.id), "Please answer.", "missing"))
            continue
        problem = _check_item(item, value)
        if problem is not None:
            errors.append(AnswerError(("answers", item.id), problem[1], problem[0]))
    return errors


def _valid(answers: Mapping[str, Any], definition: Questionnaire) -> Mapping[str, Any]:
    errors = validate(answers, definition)
    if errors:
        raise InvalidAnswers(errors)
    return answers


def observations(answers: Mapping[str, Any], definition: Questionnaire) -> list[ObservationValue]:
    """The outcome-series values of valid answers, in the questionnaire's order."""
    answers = _valid(answers, definition)
    values: list[ObservationValue] = []
    for item in definition.items:
        value = answers.get(item.id)
        if item.code is None or item.unit is None or not isinstance(value, int):
            continue  # unanswered (text items never carry a code)
        values.append(ObservationValue(item.code, Decimal(int(value)), item.unit))
    return values


def alerts_for(
    answers: Mapping[str, Any], definition: Questionnaire, baseline_pain: float | None
) -> list[Alert]:
    """What the chiropractor must see about valid answers: urgent red flags first."""
    answers = _valid(answers, definition)
    urgent: list[Alert] = []
    normal: list[Alert] = []
    for item in definition.items:
        value = answers.get(item.id)
        if isinstance(item, YesNoItem) and item.red_flag and value is True:
            urgent.append(Alert("urgent", f"red_flag:{item.id}"))
        elif item.code == PAIN_CODE and baseline_pain is not None and _is_int(value):
            assert isinstance(value, int)
            if value >= baseline_pain + PAIN_RISE:
                normal.append(Alert("normal", f"pain_worse:{item.id}"))
        elif item.code == PGIC_CODE and value in PGIC_WORSE:
            normal.append(Alert("normal", f"pgic_worse:{item.id}"))
    return urgent + normal
