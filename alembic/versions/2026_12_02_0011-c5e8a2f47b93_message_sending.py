"""message sending: a status for a send talking to the provider, and since when

The sender marks a row ``sending`` and commits before it waits on SMTP or SMS, so no lock
or connection is held meanwhile; ``sending_since`` lets the reaper resend one whose worker
died. The history trigger records the new status like any other (it copies every change of
status).

Revision ID: c5e8a2f47b93
Revises: b7d41e9c2a10
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5e8a2f47b93"
down_revision: str | None = "b7d41e9c2a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "('pending', 'queued', 'sent', 'cancelled', 'skipped', 'failed')"
NEW_STATUSES = "('pending', 'queued', 'sending', 'sent', 'cancelled', 'skipped', 'failed')"


def upgrade() -> None:
    op.add_column("messages", sa.Column("sending_since", sa.DateTime(timezone=True)))
    op.drop_constraint("ck_messages_status_valid", "messages")
    op.create_check_constraint(
        op.f("ck_messages_status_valid"), "messages", f"status IN {NEW_STATUSES}"
    )
    op.create_check_constraint(
        op.f("ck_messages_sending_since_matches"),
        "messages",
        "(status = 'sending') = (sending_since IS NOT NULL)",
    )
    op.create_index(
        "ix_messages_sending",
        "messages",
        ["sending_since"],
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    # A send in progress becomes queued again, as it was before it began: the reaper of
    # the older code returns it to pending and it is sent (with the same Message-ID).
    op.execute(
        "UPDATE messages SET status = 'queued', queued_at = sending_since,"
        " sending_since = NULL, change = 'downgrade' WHERE status = 'sending'"
    )
    op.drop_index(
        "ix_messages_sending",
        table_name="messages",
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.drop_constraint("ck_messages_sending_since_matches", "messages")
    op.drop_constraint("ck_messages_status_valid", "messages")
    op.create_check_constraint(
        op.f("ck_messages_status_valid"), "messages", f"status IN {OLD_STATUSES}"
    )
    op.drop_column("messages", "sending_since")
