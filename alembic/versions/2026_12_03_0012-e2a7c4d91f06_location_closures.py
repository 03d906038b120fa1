"""location closures: whole local days a location is closed (holidays, a week off)

Availability, bookings and care-plan series read them with the working hours. The app may
delete a closure (the admin removes one), so it gets DELETE on this table.

Revision ID: e2a7c4d91f06
Revises: c5e8a2f47b93
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e2a7c4d91f06"
down_revision: str | None = "c5e8a2f47b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location_closures",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column(
            "days",
            postgresql.DATERANGE(),
            sa.Computed("daterange(start_date, end_date, '[]')", persisted=True),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "start_date <= end_date", name=op.f("ck_location_closures_starts_before_end")
        ),
        sa.CheckConstraint(
            "end_date - start_date < 366", name=op.f("ck_location_closures_at_most_a_year")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_closures_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_closures")),
        postgresql.ExcludeConstraint(
            (sa.column("location_id"), "="),
            (sa.column("days"), "&&"),
            using="gist",
            name="ex_location_closures_no_overlap",
        ),
    )
    op.execute("GRANT DELETE ON location_closures TO clinic_app")


def downgrade() -> None:
    op.drop_table("location_closures")
