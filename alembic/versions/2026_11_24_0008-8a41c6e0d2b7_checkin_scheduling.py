"""check-in scheduling: policies, invitations and alert emails in the outbox, message links

Check-ins become outbox messages (kinds ``checkin`` and ``alert``, tied to their check-in),
links in any message share one table (``appointment_links`` → ``message_links``), a
check-in is either after a visit or weekly in a care plan, check-in answers feed
observations, and a location may name the inbox urgent alerts are emailed to.

Revision ID: 8a41c6e0d2b7
Revises: 3c8e51d2a7f4
Create Date: 2026-11-24 06:45:53.348865
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a41c6e0d2b7"
down_revision: str | None = "3c8e51d2a7f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "('confirmation', 'reminder', 'cancellation', 'waitlist_offer')"
NEW_KINDS = "('confirmation', 'reminder', 'cancellation', 'waitlist_offer', 'checkin', 'alert')"
CHECKIN_CHECKS = {
    "kind_valid": "kind IN ('after_visit', 'weekly')",
    "series_for_weekly": "(kind = 'weekly') = (series_id IS NOT NULL)",
    "sent_at_matches": "(sent_at IS NULL) = (status IN ('scheduled', 'cancelled'))",
    "expires_when_sent": "(sent_at IS NULL) = (expires_at IS NULL)",
}
# A check-in whose invitation will never go out (cancelled with its visit, skipped for
# consent or opt-out, failed) is cancelled with it, by whatever path the message changed.
FOLLOW_INVITATION = """
CREATE FUNCTION checkin_follows_invitation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE checkins SET status = 'cancelled' WHERE id = NEW.checkin_id AND status = 'scheduled';
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_checkin_follows AFTER INSERT OR UPDATE OF status ON messages
FOR EACH ROW WHEN (NEW.kind = 'checkin' AND NEW.status IN ('cancelled', 'skipped', 'failed'))
EXECUTE FUNCTION checkin_follows_invitation();
"""


def upgrade() -> None:
    # Links: one table for every link sent in a message.
    op.rename_table("appointment_links", "message_links")
    op.execute(
        "ALTER TABLE message_links RENAME CONSTRAINT pk_appointment_links TO pk_message_links"
    )
    op.execute(
        "ALTER TABLE message_links RENAME CONSTRAINT fk_appointment_links_message_id_messages"
        " TO fk_message_links_message_id_messages"
    )
    op.execute("ALTER INDEX ix_appointment_links_message_id RENAME TO ix_message_links_message_id")

    op.create_table(
        "checkin_policies",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("after_visit_hours", sa.SmallInteger(), nullable=True),
        sa.Column("weekly_in_series", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "after_visit_hours IS NULL OR after_visit_hours BETWEEN 1 AND 336",
            name=op.f("ck_checkin_policies_after_visit_hours_range"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_checkin_policies_appointment_type_id_appointment_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_checkin_policies_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_policies")),
        sa.UniqueConstraint(
            "appointment_type_id",
            "location_id",
            name=op.f("uq_checkin_policies_appointment_type_id_location_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )

    # Check-ins: planned after a visit or weekly in a series; the link lives in
    # message_links, so the token column goes (no code wrote check-ins before this).
    op.drop_index("ix_checkins_due", table_name="checkins")
    op.drop_constraint("uq_checkins_appointment_id_questionnaire_key_due_at", "checkins")
    op.drop_constraint("uq_checkins_token_hash", "checkins")
    op.drop_column("checkins", "token_hash")
    op.add_column("checkins", sa.Column("series_id", sa.Uuid(), nullable=True))
    # Rows from before (only a downgrade and upgrade again makes any) were after a visit.
    op.add_column(
        "checkins",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="after_visit"),
    )
    op.alter_column("checkins", "kind", server_default=None)
    op.add_column("checkins", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE checkins SET sent_at = created_at,"
        " expires_at = COALESCE(expires_at, created_at + interval '72 hours')"
        " WHERE status NOT IN ('scheduled', 'cancelled')"
    )
    op.execute("UPDATE checkins SET expires_at = NULL WHERE status IN ('scheduled', 'cancelled')")
    op.alter_column("checkins", "appointment_id", existing_type=sa.Uuid(), nullable=False)
    op.create_foreign_key(
        op.f("fk_checkins_series_id_appointment_series"),
        "checkins",
        "appointment_series",
        ["series_id"],
        ["id"],
    )
    for name, condition in CHECKIN_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_checkins_{name}"), "checkins", condition)
    op.create_index(
        "uq_checkins_after_visit",
        "checkins",
        ["appointment_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'after_visit'"),
    )
    op.create_index(
        "uq_checkins_weekly",
        "checkins",
        ["series_id", "due_at"],
        unique=True,
        postgresql_where=sa.text("kind = 'weekly'"),
    )
    op.create_index(
        "ix_checkins_sent",
        "checkins",
        ["expires_at"],
        postgresql_where=sa.text("status = 'sent'"),
    )

    # Messages: invitations and alert emails belong to their check-in.
    op.add_column("messages", sa.Column("checkin_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_checkin_id_checkins"), "messages", "checkins", ["checkin_id"], ["id"]
    )
    op.create_index("ix_messages_checkin", "messages", ["checkin_id"])
    op.drop_constraint("ck_messages_kind_valid", "messages")
    op.create_check_constraint(op.f("ck_messages_kind_valid"), "messages", f"kind IN {NEW_KINDS}")
    op.create_check_constraint(
        op.f("ck_messages_checkin_for_checkin_kinds"),
        "messages",
        "(kind IN ('checkin', 'alert')) = (checkin_id IS NOT NULL)",
    )
    op.drop_constraint("uq_messages_kind_appointment_id_offset_minutes", "messages")
    op.create_unique_constraint(
        op.f("uq_messages_kind_appointment_id_offset_minutes_checkin_id"),
        "messages",
        ["kind", "appointment_id", "offset_minutes", "checkin_id"],
        postgresql_nulls_not_distinct=True,
    )

    op.execute(FOLLOW_INVITATION)

    op.add_column("message_settings", sa.Column("alert_email", sa.String(length=254)))

    # Observations: a check-in's answers are a source like a signed note.
    op.add_column("observations", sa.Column("checkin_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_observations_checkin_id_checkins"),
        "observations",
        "checkins",
        ["checkin_id"],
        ["id"],
    )
    op.create_unique_constraint(
        op.f("uq_observations_checkin_id_code"), "observations", ["checkin_id", "code"]
    )
    op.create_check_constraint(
        op.f("ck_observations_checkin_source"),
        "observations",
        "(source = 'checkin') = (checkin_id IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint("ck_observations_checkin_source", "observations")
    op.drop_constraint("uq_observations_checkin_id_code", "observations")
    op.drop_constraint("fk_observations_checkin_id_checkins", "observations")
    op.drop_column("observations", "checkin_id")

    op.drop_column("message_settings", "alert_email")

    op.execute("DROP TRIGGER messages_checkin_follows ON messages")
    op.execute("DROP FUNCTION checkin_follows_invitation()")
    # The kinds this revision added go with it: their links, their history (append-only
    # everywhere else, so its trigger is set aside for this one statement) and the rows.
    op.execute(
        "DELETE FROM message_links WHERE message_id IN"
        " (SELECT id FROM messages WHERE kind IN ('checkin', 'alert'))"
    )
    op.execute("ALTER TABLE message_events DISABLE TRIGGER message_events_append_only")
    op.execute(
        "DELETE FROM message_events WHERE message_id IN"
        " (SELECT id FROM messages WHERE kind IN ('checkin', 'alert'))"
    )
    op.execute("ALTER TABLE message_events ENABLE TRIGGER message_events_append_only")
    op.execute("DELETE FROM messages WHERE kind IN ('checkin', 'alert')")
    op.drop_constraint("uq_messages_kind_appointment_id_offset_minutes_checkin_id", "messages")
    op.create_unique_constraint(
        op.f("uq_messages_kind_appointment_id_offset_minutes"),
        "messages",
        ["kind", "appointment_id", "offset_minutes"],
        postgresql_nulls_not_distinct=True,
    )
    op.drop_constraint("ck_messages_checkin_for_checkin_kinds", "messages")
    op.drop_constraint("ck_messages_kind_valid", "messages")
    op.create_check_constraint(op.f("ck_messages_kind_valid"), "messages", f"kind IN {OLD_KINDS}")
    op.drop_index("ix_messages_checkin", table_name="messages")
    op.drop_constraint("fk_messages_checkin_id_checkins", "messages")
    op.drop_column("messages", "checkin_id")

    op.drop_index("ix_checkins_sent", table_name="checkins")
    op.drop_index("uq_checkins_weekly", table_name="checkins")
    op.drop_index("uq_checkins_after_visit", table_name="checkins")
    for name in CHECKIN_CHECKS:
        op.drop_constraint(f"ck_checkins_{name}", "checkins")
    op.drop_constraint("fk_checkins_series_id_appointment_series", "checkins")
    op.alter_column("checkins", "appointment_id", existing_type=sa.Uuid(), nullable=True)
    op.drop_column("checkins", "sent_at")
    op.drop_column("checkins", "kind")
    op.drop_column("checkins", "series_id")
    op.add_column("checkins", sa.Column("token_hash", sa.LargeBinary(length=32), nullable=True))
    op.create_unique_constraint(op.f("uq_checkins_token_hash"), "checkins", ["token_hash"])
    op.create_unique_constraint(
        op.f("uq_checkins_appointment_id_questionnaire_key_due_at"),
        "checkins",
        ["appointment_id", "questionnaire_key", "due_at"],
    )
    op.create_index(
        "ix_checkins_due", "checkins", ["due_at"], postgresql_where=sa.text("status = 'scheduled'")
    )

    op.drop_table("checkin_policies")

    op.execute("ALTER INDEX ix_message_links_message_id RENAME TO ix_appointment_links_message_id")
    op.execute(
        "ALTER TABLE message_links RENAME CONSTRAINT fk_message_links_message_id_messages"
        " TO fk_appointment_links_message_id_messages"
    )
    op.execute(
        "ALTER TABLE message_links RENAME CONSTRAINT pk_message_links TO pk_appointment_links"
    )
    op.rename_table("message_links", "appointment_links")
