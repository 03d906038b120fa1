"""login throttle: fixed-window counters (per address, per email) replace login_failures

Sign-in attempts are counted before the password is checked, in one row per key
(``login:addr:<ip>``, ``login:email:<email>``), atomically, and the housekeeping task deletes
rows whose window has ended. ``login_failures`` (one row per failed attempt, unknown emails
included) has no reader left; failures of real accounts stay in ``audit_events``.

Revision ID: b7d41e9c2a10
Revises: 9c3e7a51d2f8
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7d41e9c2a10"
down_revision: str | None = "9c3e7a51d2f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hits >= 0", name=op.f("ck_throttle_counters_hits_not_negative")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index(
        op.f("ix_throttle_counters_window_ends_at"), "throttle_counters", ["window_ends_at"]
    )
    # The app deletes ended windows (migration 0009's defaults give it the rest).
    op.execute("GRANT DELETE ON throttle_counters TO clinic_app")
    op.drop_index("ix_login_failures_email_at", table_name="login_failures")
    op.drop_table("login_failures")


def downgrade() -> None:
    # The failures counted so far are not carried back: a lockout in progress ends.
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("email", postgresql.CITEXT(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_email_at", "login_failures", ["email", "at"], unique=False)
    op.execute("GRANT DELETE ON login_failures TO clinic_app")
    op.drop_index(op.f("ix_throttle_counters_window_ends_at"), table_name="throttle_counters")
    op.drop_table("throttle_counters")
