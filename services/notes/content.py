"""The clinical content of a visit note: SOAP, with the NUCCA exam as typed values.

Stored as one JSONB document per note (and per revision), always written through these
models, so every saved value has passed the same rules. Outcome values also become typed
``observations`` rows at signing, for series across notes and check-ins.

Units are explicit in the field names: leg-length differences in inches (to 1/16), angles
in degrees. A side goes with every non-zero measure; a measure is never negative (the side
says which way).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from services.core.types import JSON_NUMBER, NOT_BLANK, Flag, required_text
from services.notes import icd10

_FORBID = ConfigDict(extra="forbid")

Text = Annotated[str, *required_text(4000)]
Short = Annotated[str, *required_text(200)]
Score = Annotated[int, Field(ge=0, le=10), JSON_NUMBER]
Count = Annotated[int, Field(ge=0, le=366), JSON_NUMBER]
Degrees = Annotated[float, Field(ge=0, le=90), JSON_NUMBER]
# A leg-length difference in inches, in sixteenths: 0.75 is 3/4".
Inches = Annotated[float, Field(ge=0, le=4, multiple_of=0.0625), JSON_NUMBER]


class Side(StrEnum):
    left = "left"
    right = "right"


class Film(StrEnum):
    lateral = "lateral"
    nasium = "nasium"
    vertex = "vertex"


class Phase(StrEnum):
    pre = "pre"
    post = "post"


def _side_needed(value: float | None, side: Side | None, what: str) -> None:
    if value and side is None:
        raise ValueError(f"give the side of the {what}")


def _side_rule(value: str, side: str) -> ConfigDict:
    """The same rule in the JSON Schema: the measure is 0, or its side is given."""
    return ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {value: {"const": 0}}},
                {"required": [side], "properties": {side: {"enum": [s.value for s in Side]}}},
            ]
        },
    )


class LegCheck(BaseModel):
    """Supine leg check: the apparent leg-length difference and the short side."""

    model_config = _side_rule("difference_in", "short_side")

    difference_in: Inches
    short_side: Side | None = None

    @model_validator(mode="after")
    def _side(self) -> LegCheck:
        _side_needed(self.difference_in, self.short_side, "short leg")
        return self


class Angle(BaseModel):
    model_config = _side_rule("degrees", "side")

    degrees: Degrees
    side: Side | None = None

    @model_validator(mode="after")
    def _side(self) -> Angle:
        _side_needed(self.degrees, self.side, "angle")
        return self


class Rotation(BaseModel):
    model_config = _side_rule("degrees", "anterior_side")

    degrees: Degrees
    anterior_side: Side | None = None

    @model_validator(mode="after")
    def _side(self) -> Rotation:
        _side_needed(self.degrees, self.anterior_side, "rotation (anterior side)")
        return self


class Posture(BaseModel):
    """Posture / anatometer findings."""

    model_config = _FORBID

    head_tilt: Angle | None = None
    shoulder_high_side: Side | None = None
    hip_high_side: Side | None = None
    body_lean: Angle | None = None


OtherMeasures = Annotated[
    dict[Annotated[str, *required_text(60)], Annotated[float, JSON_NUMBER]],
    Field(max_length=20),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"minLength": 1, "maxLength": 60, "pattern": NOT_BLANK},
            "additionalProperties": {"type": "number"},
            "description": "Other named measures (degrees or millimetres, as named)",
        }
    ),
]


class XrayAnalysis(BaseModel):
    """One film's analysis (lateral, nasium or vertex; before or after the correction)."""

    model_config = _FORBID

    film: Film
    phase: Phase
    atlas_laterality: Angle | None = None
    atlas_rotation: Rotation | None = None
    head_tilt: Angle | None = None
    other: OtherMeasures = Field(default_factory=dict)


class Subjective(BaseModel):
    model_config = _FORBID

    chief_complaint: Short | None = None
    pain_nrs: Score | None = Field(default=None, description="Pain now, 0-10")
    headache_days: Count | None = Field(default=None, description="Since the last visit")
    migraine_attacks: Count | None = Field(default=None, description="Since the last visit")
    sleep_quality: Score | None = Field(default=None, description="0-10")
    text: Text | None = None


class Objective(BaseModel):
    model_config = _FORBID

    leg_check_pre: LegCheck | None = None
    leg_check_post: LegCheck | None = None
    posture: Posture | None = None
    xrays: Annotated[list[XrayAnalysis], Field(max_length=6)] = Field(default_factory=list)
    range_of_motion: Text | None = None
    palpation: Text | None = None


class Diagnosis(BaseModel):
    model_config = _FORBID

    # "format: icd-10-cm": not every string of that shape is in the code list, and the
    # schema says so (clients and the fuzzer then know a made-up code is refused).
    code: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "format": "icd-10-cm",
                "minLength": 3,
                "maxLength": 8,
                "examples": ["G43.909", "M79.7"],
            }
        ),
    ] = Field(description="ICD-10-CM, e.g. G43.909 (checked against the code list)")
    description: Annotated[str, Field(max_length=300)] | None = Field(
        default=None, description="Filled in from the code list (what is sent is replaced)"
    )

    @model_validator(mode="after")
    def _known(self) -> Diagnosis:
        self.code, self.description = icd10.check(self.code)
        return self


class Assessment(BaseModel):
    model_config = _FORBID

    diagnoses: Annotated[list[Diagnosis], Field(max_length=12)] = Field(default_factory=list)
    text: Text | None = None


class Plan(BaseModel):
    model_config = _FORBID

    correction_given: Flag | None = None
    correction_side: Side | None = None
    correction_notes: Text | None = None
    home_care: Text | None = None
    next_visit: Short | None = None
    care_plan_phase: Short | None = None


class NoteContent(BaseModel):
    model_config = _FORBID

    subjective: Subjective = Field(default_factory=Subjective)
    objective: Objective = Field(default_factory=Objective)
    assessment: Assessment = Field(default_factory=Assessment)
    plan: Plan = Field(default_factory=Plan)


# What a note must hold before it can be signed: (path, what is missing, as a sentence).
REQUIRED_TO_SIGN: tuple[tuple[tuple[str, ...], str], ...] = (
    (("subjective", "chief_complaint"), "the chief complaint"),
    (("subjective", "pain_nrs"), "the pain score (0-10)"),
    (("objective", "leg_check_pre"), "the leg check before the correction"),
    (("assessment", "diagnoses"), "at least one diagnosis"),
    (("plan", "correction_given"), "whether a correction was given"),
)


def value_at(content: NoteContent, path: tuple[str, ...]) -> object:
    """The value at ``path`` (("subjective", "pain_nrs")), None where any part is missing."""
    value: object = content
    for part in path:
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def missing_to_sign(content: NoteContent) -> list[tuple[tuple[str, ...], str]]:
    return [
        (path, sentence)
        for path, sentence in REQUIRED_TO_SIGN
        if value_at(content, path) in (None, [])
    ]
