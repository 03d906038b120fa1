"""scheduling: appointments (no double booking by exclusion constraints), status history,
series, idempotency keys, calendar feeds, waitlist

Revision ID: 7bf177c40cbd
Revises: 5d1f0c2b7e41
Create Date: 2026-11-24 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7bf177c40cbd"
down_revision: str | None = "5d1f0c2b7e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "user_id", "scope", "key", name=op.f("uq_idempotency_keys_user_id_scope_key")
        ),
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "appointment_series",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("weeks", sa.SmallInteger(), nullable=False),
        sa.Column("weekdays", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mode IN ('all_or_nothing', 'book_what_fits')",
            name=op.f("ck_appointment_series_mode_valid"),
        ),
        sa.CheckConstraint(
            "cardinality(weekdays) BETWEEN 1 AND 7 AND 0 <= ALL (weekdays) AND 6 >= ALL (weekdays)",
            name=op.f("ck_appointment_series_weekdays_valid"),
        ),
        sa.CheckConstraint(
            "weeks BETWEEN 1 AND 52", name=op.f("ck_appointment_series_weeks_range")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_appointment_series_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_appointment_series_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_appointment_series_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointment_series_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_appointment_series_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_series")),
    )
    op.create_index(
        op.f("ix_appointment_series_patient_id"), "appointment_series", ["patient_id"], unique=False
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_calendar_feeds_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_calendar_feeds_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_index(
        op.f("ix_calendar_feeds_practitioner_id"),
        "calendar_feeds",
        ["practitioner_id"],
        unique=False,
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "during",
            postgresql.TSTZRANGE(),
            sa.Computed("tstzrange(starts_at, ends_at, '[)')", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "held",
            postgresql.TSTZRANGE(),
            sa.Computed("tstzrange(held_from, held_until, '[)')", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'booked'"), nullable=False
        ),
        sa.Column("allow_overlap", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("cancel_reason", sa.String(length=16), nullable=True),
        sa.Column("late_cancel", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("rescheduled_from_id", sa.Uuid(), nullable=True),
        sa.Column("rescheduled_to_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "status_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("patient_id"), "="),
            (sa.column("during"), "&&"),
            where=sa.text("status NOT IN ('cancelled', 'no_show', 'rescheduled')"),
            using="gist",
            name="ex_appointments_patient",
        ),
        postgresql.ExcludeConstraint(
            (sa.column("practitioner_id"), "="),
            (sa.column("held"), "&&"),
            where=sa.text(
                "status NOT IN ('cancelled', 'no_show', 'rescheduled') AND NOT allow_overlap"
            ),
            using="gist",
            name="ex_appointments_practitioner",
        ),
        postgresql.ExcludeConstraint(
            (sa.column("room_id"), "="),
            (sa.column("held"), "&&"),
            where=sa.text(
                "status NOT IN ('cancelled', 'no_show', 'rescheduled') AND room_id IS NOT NULL"
            ),
            using="gist",
            name="ex_appointments_room",
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)",
            name=op.f("ck_appointments_cancelled_has_reason"),
        ),
        sa.CheckConstraint(
            "(status = 'rescheduled') = (rescheduled_to_id IS NOT NULL)",
            name=op.f("ck_appointments_rescheduled_links_successor"),
        ),
        sa.CheckConstraint(
            "NOT late_cancel OR cancel_reason = 'patient'",
            name=op.f("ck_appointments_late_only_for_patient"),
        ),
        sa.CheckConstraint(
            "cancel_reason IS NULL OR cancel_reason IN ('patient', 'clinic', 'illness')",
            name=op.f("ck_appointments_cancel_reason_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', 'rescheduled')",
            name=op.f("ck_appointments_status_valid"),
        ),
        sa.CheckConstraint(
            "held_from <= starts_at AND held_until >= ends_at",
            name=op.f("ck_appointments_held_covers"),
        ),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_appointments_starts_before_end")),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_appointments_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_appointments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_appointments_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_appointments_practitioner_id_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["rescheduled_from_id"],
            ["appointments.id"],
            name=op.f("fk_appointments_rescheduled_from_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["rescheduled_to_id"],
            ["appointments.id"],
            name=op.f("fk_appointments_rescheduled_to_id_appointments"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_appointments_room_id_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["appointment_series.id"],
            name=op.f("fk_appointments_series_id_appointment_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint(
            "rescheduled_from_id", name=op.f("uq_appointments_rescheduled_from_id")
        ),
        sa.UniqueConstraint("rescheduled_to_id", name=op.f("uq_appointments_rescheduled_to_id")),
    )
    op.create_index(
        "ix_appointments_location_starts",
        "appointments",
        ["location_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        "ix_appointments_patient_starts", "appointments", ["patient_id", "starts_at"], unique=False
    )
    op.create_index(
        "ix_appointments_practitioner_starts",
        "appointments",
        ["practitioner_id", "starts_at"],
        unique=False,
        postgresql_include=["held_from", "held_until", "status"],
    )
    op.create_index(
        "ix_appointments_room_starts",
        "appointments",
        ["room_id", "starts_at"],
        unique=False,
        postgresql_include=["held_from", "held_until", "status"],
    )
    op.create_index("ix_appointments_series", "appointments", ["series_id"], unique=False)
    op.create_table(
        "appointment_status_changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_appointment_status_changes_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_status_changes_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_status_changes")),
    )
    op.create_index(
        "ix_appointment_status_changes_appointment",
        "appointment_status_changes",
        ["appointment_id", "id"],
        unique=False,
    )
    # The history of who changed an appointment is evidence: reject_change() (patients
    # migration) refuses UPDATE and DELETE on it.
    op.execute(
        "CREATE TRIGGER appointment_status_changes_append_only"
        " BEFORE UPDATE OR DELETE ON appointment_status_changes"
        " FOR EACH ROW EXECUTE FUNCTION reject_change()"
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=True),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("latest_date", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'waiting'"), nullable=False
        ),
        sa.Column("offered_appointment_id", sa.Uuid(), nullable=True),
        sa.Column("offered_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status <> 'offered' OR (offered_at IS NOT NULL AND offered_starts_at IS NOT NULL)",
            name=op.f("ck_waitlist_entries_offer_recorded"),
        ),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'removed')",
            name=op.f("ck_waitlist_entries_status_valid"),
        ),
        sa.CheckConstraint(
            "earliest_date <= latest_date", name=op.f("ck_waitlist_entries_dates_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_waitlist_entries_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_waitlist_entries_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["offered_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_offered_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_waitlist_entries_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_waitlist_entries_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index("ix_waitlist_entries_patient", "waitlist_entries", ["patient_id"], unique=False)
    op.create_index(
        "ix_waitlist_entries_practitioner_status",
        "waitlist_entries",
        ["practitioner_id", "status"],
        unique=False,
    )
    # A patient's whole audit trail (GET /api/v1/audit-events?patient_id=…): rows about
    # records that belong to a patient carry its id in detail.
    op.execute(
        "CREATE INDEX ix_audit_events_detail_patient ON audit_events"
        " ((detail ->> 'patient_id'), id) WHERE detail ? 'patient_id'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_events_detail_patient")
    op.drop_index("ix_waitlist_entries_practitioner_status", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_patient", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    op.execute("DROP TRIGGER appointment_status_changes_append_only ON appointment_status_changes")
    op.drop_index(
        "ix_appointment_status_changes_appointment", table_name="appointment_status_changes"
    )
    op.drop_table("appointment_status_changes")
    op.drop_index("ix_appointments_series", table_name="appointments")
    op.drop_index("ix_appointments_room_starts", table_name="appointments")
    op.drop_index("ix_appointments_practitioner_starts", table_name="appointments")
    op.drop_index("ix_appointments_patient_starts", table_name="appointments")
    op.drop_index("ix_appointments_location_starts", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index(op.f("ix_calendar_feeds_practitioner_id"), table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
    op.drop_index(op.f("ix_appointment_series_patient_id"), table_name="appointment_series")
    op.drop_table("appointment_series")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
