"""CSV import for clinics moving from another system.

Each row is validated with the same field rules as the API; a bad row is reported (row
number, field, reason) and skipped, the good ones are imported. A row matching a patient
already present (same chart number, or same email or phone with the same birth date) is
skipped, so running the same file twice creates nothing twice. Rows are written in batches,
each batch one transaction (the caller's), so an interrupted import resumes cleanly.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy import insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import audit, clock
from services.core.phones import Phone
from services.core.types import NO_NUL, TimeZoneName
from services.patients.models import Patient, PatientConsent
from services.patients.schemas import BirthDate, Channel, Name, Sex, Tag

BATCH_SIZE = 500
_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_OWN_CHART = re.compile(r"^P\d{1,12}$", re.IGNORECASE)
REQUIRED_COLUMNS = ("given_name", "family_name", "date_of_birth")


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _yes_no(value: object) -> object:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "unknown"):
            return None
        if text in ("y", "yes", "true", "1"):
            return True
        if text in ("n", "no", "false", "0"):
            return False
    return value


def _tag_list(value: object) -> object:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(";") if tag.strip()]
    return value


Opt = BeforeValidator(_blank_to_none)


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(max_length=max_length, pattern=NO_NUL)


# An empty cell is "no value"; a filled one must fit the column.
Text20 = Annotated[Annotated[str, _text(20)] | None, Opt]
Text100 = Annotated[Annotated[str, _text(100)] | None, Opt]
Text200 = Annotated[Annotated[str, _text(200)] | None, Opt]
Text2000 = Annotated[Annotated[str, _text(2000)] | None, Opt]
ChartNumber = Annotated[
    Annotated[str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9-]+$")] | None, Opt
]
Country = Annotated[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None, Opt]


class ImportRow(BaseModel):
    """One CSV row: the columns a clinic's export usually has."""

    model_config = ConfigDict(extra="forbid")

    chart_number: ChartNumber = None
    given_name: Name
    family_name: Name
    preferred_name: Text100 = None
    date_of_birth: BirthDate
    sex: Annotated[Sex | None, Opt] = None
    phone: Annotated[Phone | None, Opt] = None
    email: Annotated[EmailStr | None, Opt] = None
    address_line1: Text200 = None
    address_line2: Text200 = None
    city: Text100 = None
    region: Text100 = None
    postal_code: Text20 = None
    country: Country = None
    preferred_channel: Annotated[
        Channel, BeforeValidator(lambda v: _blank_to_none(v) or "none")
    ] = "none"
    sms_consent: Annotated[bool | None, BeforeValidator(_yes_no)] = None
    email_consent: Annotated[bool | None, BeforeValidator(_yes_no)] = None
    tags: Annotated[list[Tag], BeforeValidator(_tag_list)] = Field(default_factory=list)
    front_desk_note: Text2000 = None
    time_zone: Annotated[TimeZoneName | None, Opt] = None


COLUMNS = tuple(ImportRow.model_fields)


@dataclass(frozen=True)
class RowError:
    row: int  # the line's number as a spreadsheet shows it (header = 1)
    field: str
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    rejected: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({error.row for error in self.rejected})


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (wrong columns); nothing was written."""


def read_rows(path: Path, report: ImportReport) -> Iterator[tuple[int, ImportRow]]:
    """Valid rows with their line numbers; invalid ones go into the report."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            header = [name.strip() for name in reader.fieldnames or []]
        except UnicodeDecodeError:
            raise ImportFileError("the file is not UTF-8: save it as 'CSV UTF-8'") from None
        unknown = sorted(set(header) - set(COLUMNS))
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if unknown or missing:
            # A file without a header row would put a patient's data here: never echo
            # anything that does not look like a column name.
            shown = [name if _COLUMN_NAME.match(name) else "(not shown)" for name in unknown]
            raise ImportFileError(
                f"the first line must name the columns; unknown columns: "
                f"{', '.join(shown) or 'none'}; missing columns: {', '.join(missing) or 'none'}; "
                f"known columns: {', '.join(COLUMNS)}"
            )
        reader.fieldnames = header
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"line {reader.line_num + 1} is not UTF-8: save the file as 'CSV UTF-8'"
                ) from None
            line = reader.line_num  # the physical line, blank lines counted
            if None in raw:
                report.rejected.append(RowError(line, "row", "more cells than the header has"))
                continue
            try:
                yield line, ImportRow.model_validate(raw)
            except ValidationError as error:
                for problem in error.errors(include_input=False):
                    where = ".".join(str(part) for part in problem["loc"]) or "row"
                    report.rejected.append(RowError(line, where, problem["msg"]))


def _name_key(given: str, family: str, born: date) -> tuple[str, Any]:
    return ("name", (given.casefold(), family.casefold(), born))


def _contact_key(kind: str, value: str, given: str, born: date) -> tuple[str, Any]:
    # The given name is part of the key: twins share a birth date and often a parent's
    # phone or email, and must not be taken for one person.
    return (kind, (value.lower(), given.casefold(), born))


def _keys(row: ImportRow) -> list[tuple[str, Any]]:
    """What identifies the row's patient: the chart number, else email or phone (with
    given name and birth date), else, as a last resort, name and birth date."""
    if row.chart_number:
        return [("chart", row.chart_number.upper())]
    keys = [
        _contact_key(kind, value, row.given_name, row.date_of_birth)
        for kind, value in (("email", row.email), ("phone", row.phone))
        if value
    ]
    return keys or [_name_key(row.given_name, row.family_name, row.date_of_birth)]


async def _existing_keys(session: AsyncSession, rows: Sequence[ImportRow]) -> set[tuple[str, Any]]:
    """Keys of the patients already stored that could match these rows.

    Plain IN lists on indexed columns (chart number, birth date, email, phone) fetch the
    candidates; the exact keys are compared here. Row-value IN lists over expressions would
    make PostgreSQL compare every patient against every row: seconds per batch.
    """
    charts = {row.chart_number.upper() for row in rows if row.chart_number}
    births = {row.date_of_birth for row in rows}
    query = select(
        Patient.chart_number,
        Patient.email,
        Patient.phone,
        Patient.date_of_birth,
        Patient.given_name,
        Patient.family_name,
    ).where(or_(Patient.chart_number.in_(charts), Patient.date_of_birth.in_(births)))
    found: set[tuple[str, Any]] = set()
    for chart, email, phone, born, given, family in await session.execute(query):
        found.add(("chart", chart))
        found.add(_name_key(given, family, born))
        for kind, value in (("email", email), ("phone", phone)):
            if value:
                found.add(_contact_key(kind, value, given, born))
    return found


# Sequence name is a constant of ours, never input.
_MOVE_SEQUENCE = text(
    "SELECT setval('patient_chart_number_seq', "
    "GREATEST(:highest, (SELECT last_value FROM patient_chart_number_seq)))"
)


async def _move_chart_sequence_past(session: AsyncSession, rows: Sequence[ImportRow]) -> None:
    """Imported chart numbers in our own format (P000123) move the sequence past them, so a
    number generated later, in this batch or any time after, never collides with them."""
    own = [
        int(r.chart_number[1:]) for r in rows if r.chart_number and _OWN_CHART.match(r.chart_number)
    ]
    if own:
        await session.execute(_MOVE_SEQUENCE, {"highest": max(own)})


async def import_batch(
    session: AsyncSession,
    rows: Sequence[ImportRow],
    report: ImportReport,
    *,
    default_time_zone: str,
    home_location_id: uuid.UUID | None,
    seen: set[tuple[str, Any]],
) -> None:
    """Insert the rows not already present (in the database or earlier in the file)."""
    present = await _existing_keys(session, rows) | seen
    fresh: list[ImportRow] = []
    for row in rows:
        keys = _keys(row)
        if any(key in present for key in keys):
            report.already_present += 1
            continue
        present.update(keys)
        seen.update(keys)
        fresh.append(row)
    if not fresh:
        return
    now = clock.utcnow()
    values = []
    for row in fresh:
        data = row.model_dump(exclude={"sms_consent", "email_consent", "chart_number"})
        data["tags"] = sorted(set(row.tags))
        data["time_zone"] = row.time_zone or default_time_zone
        data["home_location_id"] = home_location_id
        if row.chart_number:
            data["chart_number"] = row.chart_number.upper()
        values.append(data)
    await _move_chart_sequence_past(session, fresh)
    # One INSERT per shape (with or without a chart number), so the default applies.
    ids: list[uuid.UUID] = []
    for with_chart in (True, False):
        part = [v for v in values if ("chart_number" in v) is with_chart]
        if part:
            result = await session.execute(
                insert(Patient).returning(Patient.id, sort_by_parameter_order=True), part
            )
            ids.extend(result.scalars().all())
    ordered = [r for r in fresh if r.chart_number] + [r for r in fresh if not r.chart_number]
    consents = [
        {
            "patient_id": patient_id,
            "channel": channel,
            "granted": granted,
            "method": "import",
            "recorded_at": now,
        }
        for patient_id, row in zip(ids, ordered, strict=True)
        for channel, granted in (("sms", row.sms_consent), ("email", row.email_consent))
        if granted is not None
    ]
    if consents:
        await session.execute(insert(PatientConsent), consents)
    await audit.record_many(
        session,
        actor_id=None,
        action="import",
        resource_type="patient",
        client=None,
        items=[(patient_id, {"source": "csv"}) for patient_id in ids],
    )
    report.imported += len(ids)
