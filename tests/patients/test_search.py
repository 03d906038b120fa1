"""Search quality: typos, accents, phone formats, email, birth date, chart number."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.pagination import PageParams
from services.patients.search import literal_sql, parse_terms, search_statement
from tests.factories import Staff
from tests.patients.conftest import PATIENTS, NewPatient


async def _find(client: httpx.AsyncClient, desk: Staff, q: str) -> list[str]:
    response = await client.get(PATIENTS, params={"q": q}, headers=desk.headers)
    assert response.status_code == 200, response.text
    return [f"{p['given_name']} {p['family_name']}" for p in response.json()["items"]]


@pytest.fixture
async def roster(new_patient: NewPatient) -> None:
    people = [
        ("Jordan", "Lee", "1987-03-14", "(312) 555-0142", "jordan.lee@mail.example"),
        ("José", "García", "1975-11-02", "+1 773 555 0199", "jose@mail.example"),
        ("Jordana", "Leeds", "1990-06-01", None, None),
        ("Maria", "Santos", "1962-01-20", "312-555-0100", None),
        ("Chidi", "Okonkwo", "2001-09-09", None, "chidi@mail.example"),
    ]
    for given, family, born, phone, email in people:
        await new_patient(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            phone=phone,
            email=email,
            consents=[],
            allow_duplicate=True,
        )


@pytest.mark.usefixtures("roster")
@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("Jordan Lea", "Jordan Lee"),  # the front desk's typo from the story
        ("jordon lee", "Jordan Lee"),
        ("LEE", "Jordan Lee"),
        ("Jose Garcia", "José García"),  # no accents typed
        ("garcía", "José García"),
        ("(312) 555-0142", "Jordan Lee"),
        ("+13125550142", "Jordan Lee"),
        ("312.555.0142", "Jordan Lee"),
        ("JORDAN.LEE@mail.example", "Jordan Lee"),
        ("1987-03-14", "Jordan Lee"),
        ("03/14/1987", "Jordan Lee"),
        ("okonkwo", "Chidi Okonkwo"),
    ],
)
async def test_the_right_patient_comes_first(
    client: httpx.AsyncClient, desk: Staff, query: str, first: str
) -> None:
    found = await _find(client, desk, query)
    assert found, f"nothing found for {query!r}"
    assert found[0] == first


@pytest.mark.usefixtures("roster")
async def test_search_by_chart_number(
    client: httpx.AsyncClient, desk: Staff, session: AsyncSession
) -> None:
    chart = await session.scalar(
        text("SELECT chart_number FROM patients WHERE family_name = 'Santos'")
    )
    assert chart is not None
    assert await _find(client, desk, chart.lower()) == ["Maria Santos"]


@pytest.mark.usefixtures("roster")
async def test_unrelated_names_do_not_match(client: httpx.AsyncClient, desk: Staff) -> None:
    assert await _find(client, desk, "Xavier Quinteros") == []


@pytest.mark.usefixtures("roster")
async def test_results_are_paginated_with_a_hard_cap(
    client: httpx.AsyncClient, desk: Staff
) -> None:
    page = await client.get(PATIENTS, params={"q": "jordan", "limit": 1}, headers=desk.headers)
    assert len(page.json()["items"]) == 1
    assert page.json()["has_more"] is True
    too_many = await client.get(PATIENTS, params={"limit": 101}, headers=desk.headers)
    assert too_many.status_code == 422


async def test_name_search_is_a_knn_scan_of_the_trigram_index(
    owner_session: AsyncSession,
) -> None:
    """The nearest names come straight from the GiST index in distance order, so a page costs
    the same however many records match. (Timings at 100,000 patients: ``make bench``.)
    As the owner: only a table's owner may ANALYZE it."""
    session = owner_session
    await session.execute(
        text(
            "INSERT INTO patients (given_name, family_name, date_of_birth, time_zone) "
            "SELECT 'Given' || n, 'Family' || (n * 7919 % 100000), "
            "DATE '1950-01-01' + (n % 20000), 'America/Chicago' "
            "FROM generate_series(1, 20000) AS n"
        )
    )
    await session.execute(text("ANALYZE patients"))
    statement = search_statement(
        parse_terms("Family4242", "US"), status="active", page=PageParams()
    )
    compiled = literal_sql(statement)
    plan = "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {compiled}")))
    assert "Index Scan using ix_patients_search_name_trgm" in plan, plan
    assert "Order By" in plan, plan


async def test_pages_of_equally_near_names_neither_repeat_nor_skip(
    client: httpx.AsyncClient, desk: Staff, new_patient: NewPatient
) -> None:
    for n in range(7):
        await new_patient(
            given_name="Maria",
            family_name="Lopez",
            date_of_birth=f"1980-01-0{n + 1}",
            phone=None,
            email=None,
            consents=[],
            allow_duplicate=True,
        )
    seen: list[str] = []
    for offset in range(0, 7, 3):
        page = await client.get(
            PATIENTS,
            params={"q": "maria", "limit": 3, "offset": offset},
            headers=desk.headers,
        )
        seen += [p["id"] for p in page.json()["items"]]
    assert len(seen) == len(set(seen)) == 7
