"""clinic setup: locations, rooms, practitioners, working hours, exceptions, appointment
types, message settings

Revision ID: a3ecb4e22bac
Revises: 9fdea81042b2
Create Date: 2026-11-23 23:30:27.104767
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a3ecb4e22bac"
down_revision: str | None = "9fdea81042b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_types",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", postgresql.CITEXT(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "buffer_before_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "buffer_after_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("room_kind", sa.String(length=16), nullable=True),
        sa.Column("is_new_patient", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
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
            "colour ~ '^#[0-9A-F]{6}$'", name=op.f("ck_appointment_types_colour_hex")
        ),
        sa.CheckConstraint(
            "room_kind IN ('adjustment', 'xray', 'consult')",
            name=op.f("ck_appointment_types_room_kind_valid"),
        ),
        sa.CheckConstraint(
            "buffer_after_minutes BETWEEN 0 AND 120",
            name=op.f("ck_appointment_types_buffer_after_range"),
        ),
        sa.CheckConstraint(
            "buffer_before_minutes BETWEEN 0 AND 120",
            name=op.f("ck_appointment_types_buffer_before_range"),
        ),
        sa.CheckConstraint(
            "duration_minutes BETWEEN 5 AND 480", name=op.f("ck_appointment_types_duration_range")
        ),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 200", name=op.f("ck_appointment_types_name_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_types")),
        sa.UniqueConstraint("name", name=op.f("uq_appointment_types_name")),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", postgresql.CITEXT(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
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
        sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{1,14}$'", name=op.f("ck_locations_phone_e164")),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name=op.f("ck_locations_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "message_settings",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column(
            "reminder_offsets_minutes",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{2880,120}'::integer[]"),
            nullable=False,
        ),
        sa.Column("quiet_start", sa.Time(), server_default=sa.text("'21:00'"), nullable=False),
        sa.Column("quiet_end", sa.Time(), server_default=sa.text("'08:00'"), nullable=False),
        sa.Column("sender_name", sa.String(length=100), nullable=True),
        sa.Column(
            "late_cancel_minutes", sa.Integer(), server_default=sa.text("1440"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "cardinality(reminder_offsets_minutes) <= 5 AND 0 < ALL (reminder_offsets_minutes)",
            name=op.f("ck_message_settings_reminder_offsets_valid"),
        ),
        sa.CheckConstraint(
            "late_cancel_minutes BETWEEN 0 AND 10080",
            name=op.f("ck_message_settings_late_cancel_range"),
        ),
        sa.CheckConstraint(
            "quiet_start <> quiet_end", name=op.f("ck_message_settings_quiet_hours_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_message_settings_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_message_settings")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("credentials", sa.String(length=50), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
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
            "length(display_name) BETWEEN 1 AND 200",
            name=op.f("ck_practitioners_display_name_length"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_practitioners_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("user_id", name=op.f("uq_practitioners_user_id")),
    )
    op.create_table(
        "rooms",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("name", postgresql.CITEXT(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
            "kind IN ('adjustment', 'xray', 'consult')", name=op.f("ck_rooms_kind_valid")
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 100", name=op.f("ck_rooms_name_length")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_rooms_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
        sa.UniqueConstraint("location_id", "name", name=op.f("uq_rooms_location_id_name")),
    )
    op.create_table(
        "practitioner_locations",
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_practitioner_locations_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_practitioner_locations_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "practitioner_id", "location_id", name=op.f("pk_practitioner_locations")
        ),
    )
    op.create_index(
        op.f("ix_practitioner_locations_location_id"),
        "practitioner_locations",
        ["location_id"],
        unique=False,
    )
    op.create_table(
        "schedule_exceptions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind = 'time_off' OR location_id IS NOT NULL",
            name=op.f("ck_schedule_exceptions_extra_hours_have_location"),
        ),
        sa.CheckConstraint(
            "kind IN ('time_off', 'extra_hours')", name=op.f("ck_schedule_exceptions_kind_valid")
        ),
        sa.CheckConstraint(
            "starts_at < ends_at", name=op.f("ck_schedule_exceptions_starts_before_end")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_schedule_exceptions_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_schedule_exceptions_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_exceptions")),
    )
    op.create_index(
        "ix_schedule_exceptions_practitioner_starts",
        "schedule_exceptions",
        ["practitioner_id", "starts_at"],
        unique=False,
    )
    # "minutes" is the block as minutes since local midnight, [start, end): the exclusion
    # constraint (btree_gist, enabled by the baseline) keeps one practitioner's blocks on a
    # weekday from overlapping, across locations, whatever the API checked before.
    # The composite foreign key means "the practitioner works at this location".
    op.create_table(
        "working_hours",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column(
            "minutes",
            postgresql.INT4RANGE(),
            sa.Computed(
                "int4range((extract(hour FROM start_time) * 60 + extract(minute FROM start_time))::integer, (extract(hour FROM end_time) * 60 + extract(minute FROM end_time))::integer)",
                persisted=True,
            ),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("practitioner_id"), "="),
            (sa.column("weekday"), "="),
            (sa.column("minutes"), "&&"),
            using="gist",
            name="ex_working_hours_no_overlap",
        ),
        sa.CheckConstraint(
            "start_time < end_time", name=op.f("ck_working_hours_starts_before_end")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_working_hours_weekday_valid")),
        sa.ForeignKeyConstraint(
            ["practitioner_id", "location_id"],
            ["practitioner_locations.practitioner_id", "practitioner_locations.location_id"],
            name=op.f("fk_working_hours_practitioner_id_practitioner_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_hours")),
    )
    op.create_index(
        op.f("ix_working_hours_location_id"), "working_hours", ["location_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_working_hours_location_id"), table_name="working_hours")
    op.drop_table("working_hours")
    op.drop_index("ix_schedule_exceptions_practitioner_starts", table_name="schedule_exceptions")
    op.drop_table("schedule_exceptions")
    op.drop_index(
        op.f("ix_practitioner_locations_location_id"), table_name="practitioner_locations"
    )
    op.drop_table("practitioner_locations")
    op.drop_table("rooms")
    op.drop_table("practitioners")
    op.drop_table("message_settings")
    op.drop_table("locations")
    op.drop_table("appointment_types")
