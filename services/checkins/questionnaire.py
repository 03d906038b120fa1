"""Questionnaires are versioned data, not code.

A definition is a JSON document (``questionnaires/<key>_v<version>.json``) validated by
:class:`Questionnaire`. Once a version is published (a row in ``questionnaires``) it never
changes: a new wording or a new item is a new version, so every stored answer can be read
against the exact questions the patient saw.

Only instruments that are free to use are shipped: numeric rating scales (NRS) and the
Patient Global Impression of Change (PGIC, public domain). Licensed instruments such as
HIT-6 are not included.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QUESTIONNAIRES_DIR = Path(__file__).parent / "questionnaires"
DEFAULT_KEY = "post_visit"
DEFAULT_VERSION = 1
NRS_MIN, NRS_MAX = 0, 10

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Item(_Strict):
    id: Identifier
    label: Text
    help: Text | None = None
    required: bool = True
    # Items that feed an outcome series name the observation code and unit (observations).
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=20)] | None = None

    @model_validator(mode="after")
    def _code_and_unit_together(self) -> _Item:
        if (self.code is None) != (self.unit is None):
            raise ValueError("an item maps to an outcome series with both `code` and `unit`")
        return self


class NrsItem(_Item):
    """A 0-10 numeric rating scale; the anchors label its ends."""

    kind: Literal["nrs"]
    min_label: Text | None = None
    max_label: Text | None = None


class Option(_Strict):
    value: int
    label: Text


class ChoiceItem(_Item):
    kind: Literal["choice"]
    options: Annotated[list[Option], Field(min_length=2, max_length=20)]

    @model_validator(mode="after")
    def _distinct_values(self) -> ChoiceItem:
        values = [option.value for option in self.options]
        if len(set(values)) != len(values):
            raise ValueError("option values must be distinct")
        return self


class CountItem(_Item):
    kind: Literal["count"]
    max: Annotated[int, Field(ge=0, le=100_000)]


class YesNoItem(_Item):
    """A yes/no question. ``red_flag``: a "yes" raises an urgent alert."""

    kind: Literal["yesno"]
    red_flag: bool = False


class TextItem(_Item):
    kind: Literal["text"]
    max_length: Annotated[int, Field(ge=1, le=10_000)]

    @model_validator(mode="after")
    def _no_series(self) -> TextItem:
        if self.code is not None:
            raise ValueError("free text does not map to an outcome series")
        return self


Item = Annotated[
    NrsItem | ChoiceItem | CountItem | YesNoItem | TextItem, Field(discriminator="kind")
]


class Questionnaire(_Strict):
    key: Identifier
    version: Annotated[int, Field(ge=1)]
    title: Text
    intro: Annotated[str, Field(max_length=2000)] | None = None
    notice: Annotated[str, Field(max_length=2000)] | None = None
    # Where the instruments come from and under which terms; for staff, not shown to patients.
    attribution: Annotated[str, Field(max_length=2000)] | None = None
    items: Annotated[list[Item], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _distinct_ids_and_codes(self) -> Questionnaire:
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("item ids must be distinct")
        codes = [item.code for item in self.items if item.code is not None]
        if len(set(codes)) != len(codes):
            raise ValueError("an observation code may appear on one item only")
        return self

    def item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)


def load(key: str = DEFAULT_KEY, version: int = DEFAULT_VERSION) -> Questionnaire:
    """The shipped definition of one questionnaire version (validated, cached)."""
    return _load(key, version)


@cache
def _load(key: str, version: int) -> Questionnaire:
    path = QUESTIONNAIRES_DIR / f"{key}_v{version}.json"
    definition = Questionnaire.model_validate(json.loads(path.read_text(encoding="utf-8")))
    if (definition.key, definition.version) != (key, version):
        raise ValueError(f"{path.name} holds {definition.key} v{definition.version}")
    return definition
