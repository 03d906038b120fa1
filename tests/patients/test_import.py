"""CSV import: good rows in, bad rows reported with row, field and reason, re-runs idempotent."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.servers import ROOT, TEMPLATE_DB, Servers

IMPORT_DB = "clinic_test_import"
HEADER = [
    "chart_number", "given_name", "family_name", "date_of_birth", "phone", "email",
    "sms_consent", "email_consent", "tags", "preferred_channel",
]  # fmt: skip


@pytest.fixture
def import_db(servers: Servers) -> str:
    servers.recreate_database(IMPORT_DB, template=TEMPLATE_DB)
    return servers.url_for(IMPORT_DB)


def _run(
    database_url: str, csv_path: Path, zone: str = "America/Chicago"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CLINIC_ENV": "test",
        "CLINIC_SECRET_KEY": TEST_SECRET,
        "CLINIC_DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "import-patients", str(csv_path),
         "--time-zone", zone],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _count(servers: Servers, sql: str) -> int:
    import psycopg

    with psycopg.connect(servers.libpq_url(IMPORT_DB)) as connection:
        row = connection.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_good_rows_are_imported_and_bad_rows_reported(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "patients.csv",
        [
            ["A-100", "Jordan", "Lee", "1987-03-14", "(312) 555-0142", "j@mail.example",
             "yes", "", "migraine;fibromyalgia", "sms"],
            ["", "Maria", "Santos", "1962-01-20", "", "", "", "no", "", ""],
            ["", "Bad", "Phone", "1970-01-01", "555", "", "", "", "", ""],
            ["", "", "Noname", "2999-01-01", "", "not-an-email", "", "", "", ""],
        ],
    )  # fmt: skip
    result = _run(import_db, path)
    assert result.returncode == 1, result.stderr  # rows were rejected
    assert "imported 2, already present 0, rejected 2 rows" in result.stderr
    report = result.stderr
    assert "phone" in report and "4" in report  # row 4 (header is row 1)
    assert "given_name" in report and "date_of_birth" in report and "email" in report
    assert _count(servers, "SELECT count(*) FROM patients") == 2
    assert _count(servers, "SELECT count(*) FROM patients WHERE chart_number = 'A-100'") == 1
    assert _count(servers, "SELECT count(*) FROM patient_consents WHERE method = 'import'") == 2
    assert _count(servers, "SELECT count(*) FROM audit_events WHERE action = 'import'") == 2

    again = _run(import_db, path)
    assert "imported 0, already present 2" in again.stderr
    assert _count(servers, "SELECT count(*) FROM patients") == 2


def test_unknown_columns_stop_the_import_before_anything_is_written(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("given_name,family_name,date_of_birth,ssn\nA,B,1980-01-01,123\n")
    result = _run(import_db, path)
    assert result.returncode != 0
    assert "unknown columns: ssn" in result.stderr
    assert _count(servers, "SELECT count(*) FROM patients") == 0


def test_twins_sharing_a_phone_are_two_patients_and_chart_numbers_never_collide(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "family.csv",
        [
            ["", "Ava", "Kim", "2015-05-05", "(312) 555-0177", "", "", "", "", ""],
            ["", "Zoe", "Kim", "2015-05-05", "(312) 555-0177", "", "", "", "", ""],
            ["P000001", "Old", "Record", "1950-01-01", "", "", "", "", "", ""],
            ["", "New", "Number", "1960-01-01", "", "", "", "", "", ""],
        ],
    )
    result = _run(import_db, path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "imported 4" in result.stderr
    assert _count(servers, "SELECT count(*) FROM patients WHERE chart_number = 'P000002'") == 1


def test_rows_are_reported_by_the_line_a_spreadsheet_shows(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        "given_name,family_name,date_of_birth\n\n\nAna,Reyes,1980-01-01\nBad,Date,1980-13-01\n"
        "Too,Many,1980-01-01,extra\n"
    )
    result = _run(import_db, path)
    assert "imported 1" in result.stderr
    assert "│ 5 " in result.stderr  # the bad date, after two blank lines
    assert "more cells than the header" in result.stderr


def test_an_unknown_time_zone_stops_the_import(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    path = _write(tmp_path / "one.csv", [["", "Ana", "Reyes", "1980-01-01"] + [""] * 6])
    result = _run(import_db, path, zone="Mars/Olympus")
    assert result.returncode != 0
    assert "not an IANA time zone" in result.stderr
    assert _count(servers, "SELECT count(*) FROM patients") == 0


def test_ten_thousand_rows_import_in_under_thirty_seconds(
    import_db: str, servers: Servers, tmp_path: Path
) -> None:
    rows = [
        ["", f"Given{n}", f"Family{n}", f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}",
         f"+1312555{n:04d}" if n < 10_000 else "", f"p{n}@mail.example", "yes", "yes", "", "email"]
        for n in range(10_000)
    ]  # fmt: skip
    path = _write(tmp_path / "big.csv", rows)
    started = time.monotonic()
    result = _run(import_db, path)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert _count(servers, "SELECT count(*) FROM patients") == 10_000
    assert elapsed < 30, f"{elapsed:.1f} s"
    print(f"imported 10,000 rows in {elapsed:.1f} s")
