"""appointment holds and sources: a time held for a patient booking online, and where each
booking came from

A hold is an appointment row with status ``held``: it keeps the time inside the same
exclusion constraints as any booking, so nobody else (online or at the front desk) can take
it. It has no patient until the patient proves their phone or email, and an expiry; then it
becomes ``booked`` or is deleted. The app may delete a hold and nothing else: a trigger
refuses any other DELETE on ``appointments``, so a real appointment can never be deleted by
the code, whatever it does.

Revision ID: f4b9d2e6a8c3
Revises: e2a7c4d91f06
Create Date: 2026-12-03 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4b9d2e6a8c3"
down_revision: str | None = "e2a7c4d91f06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled',"
    " 'no_show', 'rescheduled')"
)
NEW_STATUSES = (
    "('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled',"
    " 'no_show', 'rescheduled', 'held')"
)


def upgrade() -> None:
    op.add_column("appointments", sa.Column("hold_expires_at", sa.DateTime(timezone=True)))
    op.add_column(
        "appointments",
        sa.Column(
            "source", sa.String(length=16), server_default=sa.text("'front_desk'"), nullable=False
        ),
    )
    op.execute("UPDATE appointments SET source = 'series' WHERE series_id IS NOT NULL")
    op.alter_column("appointments", "patient_id", nullable=True)
    op.drop_constraint("ck_appointments_status_valid", "appointments")
    op.create_check_constraint(
        op.f("ck_appointments_status_valid"), "appointments", f"status IN {NEW_STATUSES}"
    )
    op.create_check_constraint(
        op.f("ck_appointments_held_has_no_patient"),
        "appointments",
        "(status = 'held') = (patient_id IS NULL)",
    )
    op.create_check_constraint(
        op.f("ck_appointments_held_expires"),
        "appointments",
        "(status = 'held') = (hold_expires_at IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_appointments_source_valid"),
        "appointments",
        "source IN ('front_desk', 'online', 'series')",
    )
    op.create_index(
        "ix_appointments_hold_expires",
        "appointments",
        ["hold_expires_at"],
        postgresql_where=sa.text("status = 'held'"),
    )
    op.execute(
        """
        CREATE FUNCTION appointments_delete_only_holds() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.status <> 'held' THEN
            RAISE EXCEPTION 'appointments are never deleted (only an expired or released hold is)'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN OLD;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER appointments_delete_only_holds BEFORE DELETE ON appointments"
        " FOR EACH ROW EXECUTE FUNCTION appointments_delete_only_holds()"
    )
    op.execute("GRANT DELETE ON appointments TO clinic_app")


def downgrade() -> None:
    op.execute("REVOKE DELETE ON appointments FROM clinic_app")
    op.execute("DROP TRIGGER appointments_delete_only_holds ON appointments")
    op.execute("DROP FUNCTION appointments_delete_only_holds()")
    # Holds are not appointments yet: they go with the feature.
    op.execute("DELETE FROM appointments WHERE status = 'held'")
    op.drop_index(
        "ix_appointments_hold_expires",
        table_name="appointments",
        postgresql_where=sa.text("status = 'held'"),
    )
    op.drop_constraint("ck_appointments_source_valid", "appointments")
    op.drop_constraint("ck_appointments_held_expires", "appointments")
    op.drop_constraint("ck_appointments_held_has_no_patient", "appointments")
    op.drop_constraint("ck_appointments_status_valid", "appointments")
    op.create_check_constraint(
        op.f("ck_appointments_status_valid"), "appointments", f"status IN {OLD_STATUSES}"
    )
    op.alter_column("appointments", "patient_id", nullable=False)
    op.drop_column("appointments", "source")
    op.drop_column("appointments", "hold_expires_at")
