"""messaging: the outbox, its events, confirm/cancel links, inbound SMS

Revision ID: 6e2f4a1c9b30
Revises: d5239945f656
Create Date: 2026-11-24 03:52:36.689199
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6e2f4a1c9b30"
down_revision: str | None = "d5239945f656"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every insert, and every change of status, send time or appointment, leaves one event:
# the front desk sees a message's whole story and no code path can skip writing it.
HISTORY_FUNCTION = """
CREATE FUNCTION message_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
        OR NEW.status IS DISTINCT FROM OLD.status
        OR NEW.send_at IS DISTINCT FROM OLD.send_at
        OR NEW.appointment_id IS DISTINCT FROM OLD.appointment_id
    THEN
        INSERT INTO message_events (message_id, status, detail)
        VALUES (NEW.id, NEW.status, jsonb_strip_nulls(jsonb_build_object(
            'why', NEW.change,
            'reason', NEW.reason,
            'error', NEW.last_error,
            'attempt', NULLIF(NEW.attempts, 0),
            'send_at', NEW.send_at
        )));
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "inbound_sms",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("from_phone", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('confirmed', 'opted_out', 'stored')",
            name=op.f("ck_inbound_sms_action_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_inbound_sms_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_inbound_sms_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_sms")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_inbound_sms_provider_id")),
    )
    op.create_index("ix_inbound_sms_received_at", "inbound_sms", ["received_at"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("provider_id", sa.String(length=255), nullable=True),
        sa.Column("segments", sa.SmallInteger(), nullable=True),
        sa.Column("change", sa.String(length=40), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
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
            "(kind = 'reminder') = (offset_minutes IS NOT NULL)",
            name=op.f("ck_messages_offset_for_reminders"),
        ),
        sa.CheckConstraint(
            "(status = 'queued') = (queued_at IS NOT NULL)",
            name=op.f("ck_messages_queued_at_matches"),
        ),
        sa.CheckConstraint(
            "(status = 'sent') = (sent_at IS NOT NULL)", name=op.f("ck_messages_sent_at_matches")
        ),
        sa.CheckConstraint(
            "channel IN ('sms', 'email', 'none')", name=op.f("ck_messages_channel_valid")
        ),
        sa.CheckConstraint(
            "kind IN ('confirmation', 'reminder', 'cancellation', 'waitlist_offer')",
            name=op.f("ck_messages_kind_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'sent', 'cancelled', 'skipped', 'failed')",
            name=op.f("ck_messages_status_valid"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_messages_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_messages_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_messages_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_messages_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "kind",
            "appointment_id",
            "offset_minutes",
            name=op.f("uq_messages_kind_appointment_id_offset_minutes"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_messages_due",
        "messages",
        ["send_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_messages_patient", "messages", ["patient_id", "created_at"], unique=False)
    op.create_index(
        "ix_messages_queued",
        "messages",
        ["queued_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index("ix_messages_appointment", "messages", ["appointment_id"], unique=False)
    op.create_table(
        "appointment_links",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_for", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_appointment_links_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_appointment_links")),
    )
    op.create_index(
        op.f("ix_appointment_links_message_id"), "appointment_links", ["message_id"], unique=False
    )
    op.create_table(
        "message_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
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
            ["message_id"], ["messages.id"], name=op.f("fk_message_events_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    op.create_index(
        "ix_message_events_message", "message_events", ["message_id", "id"], unique=False
    )
    op.execute(HISTORY_FUNCTION)
    op.execute(
        "CREATE TRIGGER messages_history AFTER INSERT OR UPDATE ON messages"
        " FOR EACH ROW EXECUTE FUNCTION message_history()"
    )
    op.execute(
        "CREATE TRIGGER message_events_append_only BEFORE UPDATE OR DELETE ON message_events"
        " FOR EACH ROW EXECUTE FUNCTION reject_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER message_events_append_only ON message_events")
    op.execute("DROP TRIGGER messages_history ON messages")
    op.execute("DROP FUNCTION message_history()")
    op.drop_index("ix_message_events_message", table_name="message_events")
    op.drop_table("message_events")
    op.drop_index(op.f("ix_appointment_links_message_id"), table_name="appointment_links")
    op.drop_table("appointment_links")
    op.drop_index("ix_messages_appointment", table_name="messages")
    op.drop_index(
        "ix_messages_queued", table_name="messages", postgresql_where=sa.text("status = 'queued'")
    )
    op.drop_index("ix_messages_patient", table_name="messages")
    op.drop_index(
        "ix_messages_due", table_name="messages", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("messages")
    op.drop_index("ix_inbound_sms_received_at", table_name="inbound_sms")
    op.drop_table("inbound_sms")
