"""The dispatcher's claim reads the partial index of pending rows, however many were sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.messaging.outbox import claim_statement
from tests.appointments.conftest import Clinic


async def test_the_claim_query_uses_the_due_index(clinic: Clinic, session: AsyncSession) -> None:
    await session.execute(
        text(
            "INSERT INTO messages (kind, patient_id, location_id, channel, offset_minutes,"
            " send_at, status, sent_at)"
            " SELECT 'reminder', :patient, :location, 'sms', n, now() - interval '1 day',"
            " CASE WHEN n % 1000 = 0 THEN 'pending' ELSE 'sent' END,"
            " CASE WHEN n % 1000 = 0 THEN NULL ELSE now() END"
            " FROM generate_series(1, 20000) AS n"
        ),
        {"patient": clinic.patients[0].id, "location": clinic.location.id},
    )
    await session.execute(text("ANALYZE messages"))
    connection = await session.connection()
    compiled = claim_statement(datetime.now(UTC), 500).compile(dialect=connection.dialect)
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan = json.dumps(result.scalar())
    assert "ix_messages_due" in plan, plan
    assert "Seq Scan" not in plan, plan
