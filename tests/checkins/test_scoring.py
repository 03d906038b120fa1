"""Scoring: validation with field paths, observation values and alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.checkins import questionnaire
from services.checkins.scoring import (
    Alert,
    AnswerError,
    InvalidAnswers,
    ObservationValue,
    alerts_for,
    observations,
    validate,
)

V1 = questionnaire.load("post_visit", 1)
RED_FLAGS = [item.id for item in V1.items if item.id.startswith("rf_")]


def answers(**changes: Any) -> dict[str, Any]:
    """A complete, calm submission with some answers changed (None removes one)."""
    base: dict[str, Any] = {
        "pain_now": 4,
        "headache": 1,
        "migraine_days": 2,
        "sleep_quality": 6,
        "pgic": 3,
        **dict.fromkeys(RED_FLAGS, False),
        "comments": "Feeling better.",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def errors(submission: object) -> dict[str, str]:
    found = validate(submission, V1)
    assert all(e.loc[0] == "answers" and len(e.loc) == 2 for e in found)
    return {e.loc[1]: e.type for e in found}


def test_a_complete_submission_is_valid() -> None:
    assert validate(answers(), V1) == []
    assert validate(answers(comments=None), V1) == []  # optional
    assert validate(answers(comments="   "), V1) == []  # blank optional text is no answer


@pytest.mark.parametrize("item", ["pain_now", "sleep_quality"])
def test_nrs_is_a_whole_number_from_0_to_10(item: str) -> None:
    assert errors(answers(**{item: 0})) == {}
    assert errors(answers(**{item: 10})) == {}
    assert errors(answers(**{item: -1})) == {item: "greater_than_equal"}
    assert errors(answers(**{item: 11})) == {item: "less_than_equal"}
    assert errors(answers(**{item: 5.5})) == {item: "int_type"}
    assert errors(answers(**{item: "5"})) == {item: "int_type"}
    assert errors(answers(**{item: True})) == {item: "int_type"}


def test_choice_must_be_one_of_the_options() -> None:
    assert errors(answers(headache=3, pgic=7)) == {}
    assert errors(answers(headache=4)) == {"headache": "enum"}
    assert errors(answers(pgic=0)) == {"pgic": "enum"}
    assert errors(answers(pgic="6")) == {"pgic": "enum"}
    assert errors(answers(pgic=False)) == {"pgic": "enum"}


def test_count_is_a_whole_number_from_0_to_its_max() -> None:
    assert errors(answers(migraine_days=0)) == {}
    assert errors(answers(migraine_days=31)) == {}
    assert errors(answers(migraine_days=32)) == {"migraine_days": "less_than_equal"}
    assert errors(answers(migraine_days=-1)) == {"migraine_days": "greater_than_equal"}
    assert errors(answers(migraine_days=1.0)) == {"migraine_days": "int_type"}


def test_yesno_is_a_boolean() -> None:
    assert errors(answers(rf_dizziness=True)) == {}
    assert errors(answers(rf_dizziness="yes")) == {"rf_dizziness": "bool_type"}
    assert errors(answers(rf_dizziness=1)) == {"rf_dizziness": "bool_type"}


def test_text_is_a_string_of_limited_length() -> None:
    assert errors(answers(comments="x" * 2000)) == {}
    assert errors(answers(comments="x" * 2001)) == {"comments": "string_too_long"}
    assert errors(answers(comments=42)) == {"comments": "string_type"}


def test_required_items_and_unknown_items() -> None:
    assert errors(answers(pain_now=None, rf_vision=None)) == {
        "pain_now": "missing",
        "rf_vision": "missing",
    }
    submission = answers()
    submission["pgic"] = None
    assert errors(submission) == {"pgic": "missing"}
    assert errors(answers(hit6_total=60)) == {"hit6_total": "extra_forbidden"}


def test_every_problem_is_reported_in_422_shape() -> None:
    found = validate(answers(pain_now=12, headache=None, extra=1), V1)
    assert {tuple(e.loc) for e in found} == {
        ("answers", "extra"),
        ("answers", "pain_now"),
        ("answers", "headache"),
    }
    detail = found[0].as_dict()
    assert set(detail) == {"loc", "msg", "type"} and detail["loc"][0] == "answers"
    assert validate([1, 2], V1) == [
        AnswerError(("answers",), "Answers must be an object.", "dict_type")
    ]


def test_answers_become_observation_values() -> None:
    assert observations(answers(), V1) == [
        ObservationValue("pain_nrs", Decimal(4), "score"),
        ObservationValue("headache_severity", Decimal(1), "grade"),
        ObservationValue("migraine_days", Decimal(2), "d"),
        ObservationValue("sleep_quality", Decimal(6), "score"),
        ObservationValue("pgic", Decimal(3), "score"),
    ]
    zeros = observations(answers(pain_now=0, headache=0, migraine_days=0), V1)
    assert [v.value for v in zeros[:3]] == [0, 0, 0]


def test_invalid_answers_are_neither_stored_nor_scored() -> None:
    with pytest.raises(InvalidAnswers) as raised:
        observations(answers(pain_now=None), V1)
    assert [e.loc for e in raised.value.errors] == [("answers", "pain_now")]
    with pytest.raises(InvalidAnswers):
        alerts_for(answers(rf_vision="yes"), V1, baseline_pain=None)


def test_calm_answers_raise_nothing() -> None:
    assert alerts_for(answers(), V1, baseline_pain=4) == []
    assert alerts_for(answers(), V1, baseline_pain=None) == []


@pytest.mark.parametrize("flag", RED_FLAGS)
def test_any_red_flag_is_urgent(flag: str) -> None:
    assert alerts_for(answers(**{flag: True}), V1, baseline_pain=None) == [
        Alert("urgent", f"red_flag:{flag}")
    ]


def test_several_findings_urgent_first() -> None:
    found = alerts_for(answers(pgic=7, rf_vision=True, rf_dizziness=True), V1, baseline_pain=None)
    assert found == [
        Alert("urgent", "red_flag:rf_dizziness"),
        Alert("urgent", "red_flag:rf_vision"),
        Alert("normal", "pgic_worse:pgic"),
    ]


@pytest.mark.parametrize(
    ("baseline", "pain", "expected"),
    [
        (4, 6, []),
        (4, 7, [Alert("normal", "pain_worse:pain_now")]),
        (4, 10, [Alert("normal", "pain_worse:pain_now")]),
        (4.5, 7, []),
        (4.5, 8, [Alert("normal", "pain_worse:pain_now")]),
        (0, 3, [Alert("normal", "pain_worse:pain_now")]),
        (8, 10, []),
        (None, 10, []),  # no baseline, no pain-based alert
    ],
)
def test_pain_three_points_above_baseline_is_worse(
    baseline: float | None, pain: int, expected: list[Alert]
) -> None:
    assert alerts_for(answers(pain_now=pain), V1, baseline_pain=baseline) == expected


@pytest.mark.parametrize(
    ("pgic", "expected"),
    [
        (1, []),
        (4, []),
        (5, []),
        (6, [Alert("normal", "pgic_worse:pgic")]),
        (7, [Alert("normal", "pgic_worse:pgic")]),
    ],
)
def test_pgic_much_or_very_much_worse_is_worse(pgic: int, expected: list[Alert]) -> None:
    assert alerts_for(answers(pgic=pgic), V1, baseline_pain=None) == expected
