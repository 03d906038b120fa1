"""online booking: which types patients may book themselves, each location's settings, the
clinic's blocklist, the requests of patients booking, and their codes in the outbox

A booking code goes to someone who is not a patient yet: ``messages.patient_id`` may be
NULL for that kind only, and the row names the request and the code's round instead (the
one-per-subject key grows by those two columns). The app deletes requests (with their
holds, and once confirmed) and blocklist entries.

Revision ID: a6c3e8f1b2d4
Revises: f4b9d2e6a8c3
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a6c3e8f1b2d4"
down_revision: str | None = "f4b9d2e6a8c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "('confirmation', 'reminder', 'cancellation', 'waitlist_offer', 'checkin', 'alert')"
NEW_KINDS = (
    "('confirmation', 'reminder', 'cancellation', 'waitlist_offer', 'checkin', 'alert',"
    " 'booking_code')"
)
OLD_KEY = "uq_messages_kind_appointment_id_offset_minutes_checkin_id"
NEW_KEY = "uq_messages_one_per_subject"


def _appointment_types() -> None:
    for name, default in (
        ("online_bookable", "false"),
        ("online_notice_minutes", "720"),
        ("online_days_ahead", "60"),
    ):
        kind = sa.Boolean() if name == "online_bookable" else sa.Integer()
        op.add_column(
            "appointment_types",
            sa.Column(name, kind, server_default=sa.text(default), nullable=False),
        )
    op.create_check_constraint(
        op.f("ck_appointment_types_online_notice_range"),
        "appointment_types",
        "online_notice_minutes BETWEEN 0 AND 20160",
    )
    op.create_check_constraint(
        op.f("ck_appointment_types_online_days_ahead_range"),
        "appointment_types",
        "online_days_ahead BETWEEN 1 AND 365",
    )


def _tables() -> None:
    now = sa.text("now()")
    op.create_table(
        "online_booking_settings",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("hold_minutes", sa.SmallInteger(), server_default=sa.text("10"), nullable=False),
        sa.Column(
            "open_holds_per_contact", sa.SmallInteger(), server_default=sa.text("2"), nullable=False
        ),
        sa.Column(
            "holds_per_address_hour", sa.Integer(), server_default=sa.text("10"), nullable=False
        ),
        sa.Column(
            "codes_per_contact_day", sa.SmallInteger(), server_default=sa.text("5"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "hold_minutes BETWEEN 5 AND 30",
            name=op.f("ck_online_booking_settings_hold_minutes_range"),
        ),
        sa.CheckConstraint(
            "open_holds_per_contact BETWEEN 1 AND 10",
            name=op.f("ck_online_booking_settings_open_holds_range"),
        ),
        sa.CheckConstraint(
            "holds_per_address_hour BETWEEN 1 AND 1000",
            name=op.f("ck_online_booking_settings_address_range"),
        ),
        sa.CheckConstraint(
            "codes_per_contact_day BETWEEN 1 AND 50",
            name=op.f("ck_online_booking_settings_codes_range"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_online_booking_settings_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_online_booking_settings")),
    )
    op.create_table(
        "online_blocked_contacts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", postgresql.CITEXT(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "kind IN ('phone', 'email')", name=op.f("ck_online_blocked_contacts_kind_valid")
        ),
        sa.CheckConstraint(
            "length(value) BETWEEN 3 AND 254",
            name=op.f("ck_online_blocked_contacts_value_length"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_online_blocked_contacts_created_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_blocked_contacts")),
        sa.UniqueConstraint("value", name=op.f("uq_online_blocked_contacts_value")),
    )
    op.create_table(
        "online_booking_requests",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=True),
        sa.Column("family_name", sa.String(length=100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", postgresql.CITEXT(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("sms_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("email_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("language", sa.String(length=8), server_default=sa.text("'en'"), nullable=False),
        sa.Column("blocked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("code_nonce", sa.LargeBinary(length=16), nullable=True),
        sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("codes_sent", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("tries", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "channel IN ('sms', 'email')", name=op.f("ck_online_booking_requests_channel_valid")
        ),
        sa.CheckConstraint(
            "tries BETWEEN 0 AND 5", name=op.f("ck_online_booking_requests_tries_range")
        ),
        sa.CheckConstraint(
            r"phone IS NULL OR phone ~ '^\+[1-9][0-9]{1,14}$'",
            name=op.f("ck_online_booking_requests_phone_e164"),
        ),
        sa.CheckConstraint(
            "(code_nonce IS NULL) = (code_sent_at IS NULL)",
            name=op.f("ck_online_booking_requests_code_sent_with_nonce"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["appointments.id"],
            name=op.f("fk_online_booking_requests_hold_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_online_booking_requests_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_booking_requests")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_online_booking_requests_hold_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_online_booking_requests_token_hash")),
    )
    op.create_index(
        "ix_online_booking_requests_phone", "online_booking_requests", ["phone"], unique=False
    )
    op.create_index(
        "ix_online_booking_requests_email", "online_booking_requests", ["email"], unique=False
    )
    op.execute("GRANT DELETE ON online_booking_requests, online_blocked_contacts TO clinic_app")


def _messages() -> None:
    op.add_column("messages", sa.Column("booking_request_id", sa.Uuid(), nullable=True))
    op.add_column("messages", sa.Column("code_round", sa.SmallInteger(), nullable=True))
    op.alter_column("messages", "patient_id", nullable=True)
    op.drop_constraint("ck_messages_kind_valid", "messages")
    op.create_check_constraint(op.f("ck_messages_kind_valid"), "messages", f"kind IN {NEW_KINDS}")
    op.create_check_constraint(
        op.f("ck_messages_patient_unless_addressed"),
        "messages",
        "(kind IN ('booking_code')) = (patient_id IS NULL)",
    )
    op.create_check_constraint(
        op.f("ck_messages_request_for_booking_codes"),
        "messages",
        "(kind = 'booking_code') = (booking_request_id IS NOT NULL AND code_round IS NOT NULL)",
    )
    op.drop_constraint(OLD_KEY, "messages")
    op.create_unique_constraint(
        NEW_KEY,
        "messages",
        [
            "kind",
            "appointment_id",
            "offset_minutes",
            "checkin_id",
            "booking_request_id",
            "code_round",
        ],
        postgresql_nulls_not_distinct=True,
    )


def upgrade() -> None:
    _appointment_types()
    _tables()
    _messages()


def downgrade() -> None:
    # Codes are worthless once their requests are gone: they go with the feature, history
    # included (the append-only trigger steps aside for this one statement).
    op.execute("ALTER TABLE message_events DISABLE TRIGGER message_events_append_only")
    op.execute(
        "DELETE FROM message_events WHERE message_id IN"
        " (SELECT id FROM messages WHERE kind = 'booking_code')"
    )
    op.execute("ALTER TABLE message_events ENABLE TRIGGER message_events_append_only")
    op.execute("DELETE FROM messages WHERE kind = 'booking_code'")
    op.drop_constraint(NEW_KEY, "messages")
    op.create_unique_constraint(
        OLD_KEY,
        "messages",
        ["kind", "appointment_id", "offset_minutes", "checkin_id"],
        postgresql_nulls_not_distinct=True,
    )
    op.drop_constraint("ck_messages_request_for_booking_codes", "messages")
    op.drop_constraint("ck_messages_patient_unless_addressed", "messages")
    op.drop_constraint("ck_messages_kind_valid", "messages")
    op.create_check_constraint(op.f("ck_messages_kind_valid"), "messages", f"kind IN {OLD_KINDS}")
    op.alter_column("messages", "patient_id", nullable=False)
    op.drop_column("messages", "code_round")
    op.drop_column("messages", "booking_request_id")
    op.drop_table("online_booking_requests")
    op.drop_table("online_blocked_contacts")
    op.drop_table("online_booking_settings")
    op.drop_constraint("ck_appointment_types_online_days_ahead_range", "appointment_types")
    op.drop_constraint("ck_appointment_types_online_notice_range", "appointment_types")
    for name in ("online_days_ahead", "online_notice_minutes", "online_bookable"):
        op.drop_column("appointment_types", name)
