"""Questionnaires are data: the shipped post-visit v1 loads, and bad definitions do not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.checkins import questionnaire
from services.checkins.questionnaire import (
    ChoiceItem,
    CountItem,
    NrsItem,
    Questionnaire,
    TextItem,
    YesNoItem,
)

RED_FLAGS = {
    "rf_sudden_headache",
    "rf_dizziness",
    "rf_vision",
    "rf_speech_swallowing",
    "rf_numbness_weakness",
    "rf_neck_pain",
}


def test_the_post_visit_questionnaire_loads_and_validates() -> None:
    definition = questionnaire.load()
    assert (definition.key, definition.version) == ("post_visit", 1)
    kinds = {item.id: type(item) for item in definition.items}
    assert kinds["pain_now"] is NrsItem and kinds["sleep_quality"] is NrsItem
    assert kinds["headache"] is ChoiceItem and kinds["pgic"] is ChoiceItem
    assert kinds["migraine_days"] is CountItem and kinds["comments"] is TextItem
    codes = {item.code: item.unit for item in definition.items if item.code}
    assert codes == {
        "pain_nrs": "score",
        "headache_severity": "grade",
        "migraine_days": "d",
        "sleep_quality": "score",
        "pgic": "score",
    }
    flags = {i.id for i in definition.items if isinstance(i, YesNoItem) and i.red_flag}
    assert flags == RED_FLAGS


def test_the_scales_have_the_agreed_values() -> None:
    definition = questionnaire.load("post_visit", 1)
    headache = definition.item("headache")
    pgic = definition.item("pgic")
    comments = definition.item("comments")
    assert isinstance(headache, ChoiceItem) and isinstance(pgic, ChoiceItem)
    assert [o.value for o in headache.options] == [0, 1, 2, 3]
    assert [o.label for o in headache.options] == ["No headache", "Mild", "Moderate", "Severe"]
    assert [o.value for o in pgic.options] == list(range(1, 8))
    assert pgic.options[0].label == "Very much improved"
    assert pgic.options[5].label == "Much worse"
    assert pgic.options[6].label == "Very much worse"
    assert isinstance(comments, TextItem) and comments.max_length == 2000
    assert not comments.required
    assert definition.attribution and "public domain" in definition.attribution


def test_no_licensed_instrument_is_shipped() -> None:
    for path in questionnaire.QUESTIONNAIRES_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        Questionnaire.model_validate(json.loads(text))
        items = json.loads(text)["items"]
        assert not any("hit" in item["id"].lower() for item in items)
        assert all("HIT-6" not in (item.get("label", "") + item.get("help", "")) for item in items)


def _definition(*items: dict[str, Any]) -> dict[str, Any]:
    return {"key": "q", "version": 1, "title": "Q", "items": list(items)}


YES = {"id": "a", "kind": "yesno", "label": "A?"}


@pytest.mark.parametrize(
    "definition",
    [
        _definition(YES, {**YES, "label": "Again?"}),  # duplicate item id
        _definition({**YES, "code": "a_code"}),  # code without unit
        _definition(
            {"id": "t", "kind": "text", "label": "T", "max_length": 10, "code": "t", "unit": "x"}
        ),
        _definition(
            {
                "id": "c",
                "kind": "choice",
                "label": "C",
                "options": [{"value": 1, "label": "x"}, {"value": 1, "label": "y"}],
            }
        ),
        _definition({"id": "n", "kind": "count", "label": "N", "max": -1}),
        _definition({"id": "s", "kind": "slider", "label": "S"}),  # unknown kind
        _definition({**YES, "colour": "red"}),  # unknown field
        _definition(),  # no items
        {**_definition(YES), "version": 0},
        _definition({**YES, "id": "Bad Id"}),
    ],
)
def test_bad_definitions_are_refused(definition: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Questionnaire.model_validate(definition)


def test_a_file_must_hold_the_version_its_name_says(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "other_v2.json").write_text(json.dumps({**_definition(YES), "key": "other"}))
    monkeypatch.setattr(questionnaire, "QUESTIONNAIRES_DIR", tmp_path)
    with pytest.raises(ValueError, match="holds other v1"):
        questionnaire.load("other", 2)
