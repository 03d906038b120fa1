"""The dispatcher's claim reads the partial index of pending rows, however many were sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.messaging.outbox import claim_statement


async def test_the_claim_query_uses_the_due_index(owner_session: AsyncSession) -> None:
    # As the owner: only a table's owner may ANALYZE it.
    session = owner_session
    await session.execute(
        text(
            "WITH l AS (INSERT INTO locations (name, time_zone) VALUES ('L', 'UTC') RETURNING id),"
            " p AS (INSERT INTO patients (given_name, family_name, date_of_birth, time_zone)"
            "       VALUES ('Jordan', 'Lee', '1990-01-01', 'UTC') RETURNING id)"
            " INSERT INTO messages (kind, patient_id, location_id, channel, offset_minutes,"
            " send_at, status, sent_at)"
            " SELECT 'reminder', p.id, l.id, 'sms', n, now() - interval '1 day',"
            " CASE WHEN n % 1000 = 0 THEN 'pending' ELSE 'sent' END,"
            " CASE WHEN n % 1000 = 0 THEN NULL ELSE now() END"
            " FROM generate_series(1, 20000) AS n, l, p"
        )
    )
    await session.execute(text("ANALYZE messages"))
    connection = await session.connection()
    compiled = claim_statement(datetime.now(UTC), 500).compile(dialect=connection.dialect)
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan = json.dumps(result.scalar())
    assert "ix_messages_due" in plan, plan
    assert "Seq Scan" not in plan, plan
