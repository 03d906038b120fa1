"""Patient search at 100,000 patients, timed at the database (EXPLAIN ANALYZE).

The floor is a primary-key lookup of one patient, measured in the same run; each search is
reported as its median execution time and its ratio to that floor. The plan of the name
search is printed, to show it comes from the trigram index.
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import psycopg

from services.core.pagination import PageParams
from services.patients.search import literal_sql, parse_terms, search_statement
from tests.servers import Servers, migrate, start_test_servers

BENCH_DB = "clinic_bench_search"
REPEAT = 30

GIVEN = [
    "Jordan",
    "Maria",
    "José",
    "Ana",
    "Chidi",
    "Sam",
    "Priya",
    "Tomás",
    "Olga",
    "Wei",
    "Fatima",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Mateo",
    "Aisha",
    "Lucas",
    "Mia",
    "Ethan",
    "Grace",
    "Omar",
    "Hannah",
    "Diego",
    "Leila",
    "Marcus",
    "Ingrid",
    "Kofi",
    "Yuki",
    "Nadia",
    "Daniel",
    "Sarah",
    "Michael",
    "Laura",
    "David",
    "Elena",
    "James",
    "Julia",
    "Robert",
    "Anna",
    "William",
    "Chloe",
    "Joseph",
    "Zoe",
    "Thomas",
    "Isabel",
    "Charles",
    "Lily",
    "Henry",
    "Ava",
    "Samuel",
    "Nora",
    "Benjamin",
    "Ruth",
    "Isaac",
    "Clara",
    "Adam",
    "Alice",
    "Oscar",
    "Rosa",
]
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "tan",
    "le",
    "son",
    "ber",
    "gar",
    "cia",
    "ok",
    "for",
    "rey",
    "es",
    "nguy",
    "en",
    "smi",
    "th",
    "kow",
    "al",
    "ski",
    "mul",
    "ler",
    "ok",
    "onk",
    "wo",
    "john",
    "bro",
    "wn",
    "mar",
    "tin",
    "ez",
    "ros",
    "si",
    "kim",
    "pat",
    "el",
    "co",
    "hen",
    "sil",
    "va",
    "du",
    "bois",
    "no",
    "vak",
    "ha",
    "dad",
]


def patient_rows(count: int) -> Iterator[tuple[str, str, date, str, str, str]]:
    """Varied, realistic-looking names: 60 given names, tens of thousands of surnames."""
    rng = random.Random(20261123)
    for n in range(count):
        family = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        yield (
            rng.choice(GIVEN),
            family,
            date(1940, 1, 1) + timedelta(days=rng.randrange(25_000)),
            f"+1312{2_000_000 + n}",
            f"patient{n}@mail.example",
            "America/Chicago",
        )


def _seed(connection: psycopg.Connection[Any], count: int) -> None:
    columns = "given_name, family_name, date_of_birth, phone, email, time_zone"
    with connection.cursor().copy(f"COPY patients ({columns}) FROM STDIN") as copy:
        for row in patient_rows(count):
            copy.write_row(row)


def _compiled(q: str) -> str:
    return literal_sql(search_statement(parse_terms(q, "US"), status="active", page=PageParams()))


def _execution_ms(connection: psycopg.Connection[Any], sql: str) -> float:
    row = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()
    assert row is not None
    return float(row[0][0]["Execution Time"])


def main() -> None:
    count = int(os.environ.get("BENCH_PATIENTS", "100000"))
    servers: Servers = start_test_servers()
    try:
        servers.recreate_database(BENCH_DB)
        try:
            migrate(servers.owner_url_for(BENCH_DB))
            with psycopg.connect(servers.libpq_url(BENCH_DB), autocommit=True) as connection:
                _seed(connection, count)
                connection.execute("ANALYZE patients")
                some_id = connection.execute("SELECT id FROM patients LIMIT 1").fetchone()
                assert some_id is not None
                queries = {
                    # S608: the id is a uuid this script just read, not input.
                    "floor: primary key": f"SELECT * FROM patients WHERE id = '{some_id[0]}'",  # noqa: S608
                    "name with a typo 'Jordn Kasonber'": _compiled("Jordn Kasonber"),
                    "part of a name 'mari'": _compiled("mari"),
                    "no match 'xavier quinteros'": _compiled("xavier quinteros"),
                    "accent-free 'jose garcia'": _compiled("jose garcia"),
                    "phone '(312) 200-4242'": _compiled("(312) 200-4242"),
                    "birth date '1987-03-14'": _compiled("1987-03-14"),
                    "email": _compiled("patient4242@mail.example"),
                }
                for sql in queries.values():  # warm the cache
                    _execution_ms(connection, sql)
                timings = {
                    name: [_execution_ms(connection, sql) for _ in range(REPEAT)]
                    for name, sql in queries.items()
                }
                plan = connection.execute(
                    f"EXPLAIN (ANALYZE, COSTS OFF) {queries[list(queries)[1]]}"
                ).fetchall()
        finally:
            servers.drop_database(BENCH_DB)
    finally:
        servers.stop()
    floor = statistics.median(timings["floor: primary key"])
    print(f"patient search, {count:,} patients, execution time at the database:")
    print(f"{'query':<34}{'median ms':>10}{'p95 ms':>9}  vs floor")
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<34}{median:>10.3f}{p95:>9.3f}  {median / floor:.1f}x")
    print("plan of the name search:")
    for (line,) in plan:
        print(f"  {line}")


if __name__ == "__main__":
    main()
