"""Patient search: one box for name (typo- and accent-tolerant), phone in any format,
email, date of birth or chart number. Ranked: exact identifiers first, then name distance.

Exact identifiers are btree lookups combined with a BitmapOr; names are a KNN scan of the
GiST trigram index (see ``_name_statement``), so no query reads the whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from sqlalchemy import ColumnElement, Float, Select, case, func, literal, or_, select
from sqlalchemy.dialects import postgresql

from services.core.pagination import PageParams
from services.patients.models import Patient

# Distances (1 - similarity) beyond which a name is not offered as a match at all.
WHOLE_NAME_MAX_DISTANCE = 0.7  # pg_trgm's own default similarity threshold, 0.3
PART_MAX_DISTANCE = 0.5

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%d.%m.%Y")
_CHART = re.compile(r"^[A-Za-z]{0,4}[-]?\d{2,}$")


@dataclass(frozen=True)
class SearchTerms:
    text: str
    phone: str | None = None
    email: str | None = None
    birth_date: date | None = None
    chart_number: str | None = None


def parse_terms(q: str, region: str) -> SearchTerms:
    text = " ".join(q.split())
    email = text if "@" in text else None
    birth_date = None
    for fmt in _DATE_FORMATS:
        try:
            birth_date = datetime.strptime(text, fmt).date()
            break
        except ValueError:
            continue
    phone = None
    if birth_date is None and sum(ch.isdigit() for ch in text) >= 7:
        try:
            number = phonenumbers.parse(text, region)
            if phonenumbers.is_valid_number(number):
                phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
    chart_number = text.upper() if _CHART.match(text) else None
    return SearchTerms(text, phone, email, birth_date, chart_number)


def _normalised(text: str) -> ColumnElement[str]:
    # The same normalisation the generated search_name column uses.
    return func.clinic_unaccent(func.lower(literal(text)))


def literal_sql(statement: Select[Patient]) -> str:
    """The statement as plain SQL with its values inlined, for EXPLAIN in tests and benches.

    Rendered with the "named" paramstyle so ``%`` (the similarity operator) is not doubled.
    """
    dialect = postgresql.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def is_name_search(terms: SearchTerms) -> bool:
    return not (terms.chart_number or terms.phone or terms.email or terms.birth_date)


def _exact_statement(
    terms: SearchTerms, status: str | None, page: PageParams
) -> Select[Patient] | None:
    exact: list[tuple[ColumnElement[bool], float]] = []
    if terms.chart_number:
        exact.append((Patient.chart_number == terms.chart_number, 4.0))
    if terms.phone:
        exact.append((Patient.phone == terms.phone, 3.0))
    if terms.email:
        exact.append((Patient.email == terms.email, 3.0))
    if terms.birth_date:
        exact.append((Patient.date_of_birth == terms.birth_date, 2.0))
    if not exact:
        return None
    score = case(*exact, else_=literal(0.0, Float))
    query = select(Patient).where(or_(*(condition for condition, _ in exact)))
    if status is not None:
        query = query.where(Patient.status == status)
    ordered = query.order_by(score.desc(), Patient.family_name, Patient.given_name, Patient.id)
    return page.apply(ordered)


def _name_statement(terms: SearchTerms, status: str | None, page: PageParams) -> Select[Patient]:
    """Nearest names first, straight from the GiST trigram index (a KNN scan).

    The scan stops after one page, so a common name ("maria" in 2,000 records) costs what a
    rare one does; a threshold filter with a sort (GIN) would rank every match first.
    Several words compare as a whole ("jordon lee"); one word compares with the closest part
    of the name ("lee" in "jordan lee").
    """
    name = _normalised(terms.text)
    whole = " " in terms.text
    operator, max_distance = (
        ("<->", WHOLE_NAME_MAX_DISTANCE) if whole else ("<<->", PART_MAX_DISTANCE)
    )
    distance = name.op(operator, return_type=Float)(Patient.search_name)
    # The position in the KNN stream orders the page: ties (many "maria") keep the scan's
    # order, which a longer LIMIT only extends, so pages never repeat or skip anyone.
    position = func.row_number().over(order_by=distance)
    nearest = select(Patient.id, distance.label("distance"), position.label("position"))
    if status is not None:
        nearest = nearest.where(Patient.status == status)
    # ORDER BY the distance alone keeps this a KNN index scan (a tie-breaker here makes
    # PostgreSQL 15 sort the whole table); it reads up to the end of the requested page.
    nearest_up_to_page = nearest.order_by(distance).limit(page.offset + page.limit + 1).subquery()
    ordered = (
        select(Patient)
        .join(nearest_up_to_page, Patient.id == nearest_up_to_page.c.id)
        .where(nearest_up_to_page.c.distance <= max_distance)
        .order_by(nearest_up_to_page.c.position)
    )
    return page.apply(ordered)


def search_statement(
    terms: SearchTerms, *, status: str | None, page: PageParams
) -> Select[Patient]:
    """One page of matches, best first; ``page`` is applied inside (see _name_statement)."""
    exact = _exact_statement(terms, status, page)
    return exact if exact is not None else _name_statement(terms, status, page)
