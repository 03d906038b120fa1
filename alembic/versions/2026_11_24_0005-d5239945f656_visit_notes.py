"""visit notes: notes (a trigger keeps signed ones unchanged), revisions, addenda,
observations, note templates

Revision ID: d5239945f656
Revises: 7bf177c40cbd
Create Date: 2026-11-24 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d5239945f656"
down_revision: str | None = "7bf177c40cbd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A signed note is a legal record: no statement may change or remove it, whoever sends it
# (the API answers 409 before this; this is for bugs and hands on the SQL prompt).
SIGNED_IS_FINAL = """
CREATE FUNCTION visit_note_signed_is_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'visit note % is signed: % is not allowed; add an addendum',
            OLD.id, TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER visit_notes_signed_is_final
    BEFORE UPDATE OR DELETE ON visit_notes
    FOR EACH ROW EXECUTE FUNCTION visit_note_signed_is_final();
"""


def upgrade() -> None:
    op.create_table(
        "visit_notes",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'draft'"), nullable=False
        ),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
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
            "(status = 'signed') = (signed_at IS NOT NULL AND content_hash IS NOT NULL)",
            name=op.f("ck_visit_notes_signed_has_hash"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'signed', 'discarded')", name=op.f("ck_visit_notes_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_visit_notes_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_visit_notes_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_visit_notes_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_visit_notes_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_notes")),
    )
    op.create_index(
        "ix_visit_notes_patient", "visit_notes", ["patient_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_visit_notes_appointment_live",
        "visit_notes",
        ["appointment_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'discarded'"),
    )
    op.create_table(
        "note_addenda",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(text) BETWEEN 1 AND 4000", name=op.f("ck_note_addenda_text_length")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_note_addenda_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["visit_notes.id"], name=op.f("fk_note_addenda_note_id_visit_notes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addenda")),
    )
    op.create_index("ix_note_addenda_note", "note_addenda", ["note_id", "created_at"], unique=False)
    op.create_table(
        "note_revisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("saved_by", sa.Uuid(), nullable=False),
        sa.Column(
            "saved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["visit_notes.id"], name=op.f("fk_note_revisions_note_id_visit_notes")
        ),
        sa.ForeignKeyConstraint(
            ["saved_by"], ["users.id"], name=op.f("fk_note_revisions_saved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_revisions")),
        sa.UniqueConstraint("note_id", "version", name=op.f("uq_note_revisions_note_id_version")),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('note', 'checkin')", name=op.f("ck_observations_source_valid")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_observations_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["visit_notes.id"], name=op.f("fk_observations_note_id_visit_notes")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_observations_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("note_id", "code", name=op.f("uq_observations_note_id_code")),
    )
    op.create_index(
        "ix_observations_patient_code_at",
        "observations",
        ["patient_id", "code", "at"],
        unique=False,
    )
    op.create_table(
        "note_templates",
        sa.Column("appointment_type_id", sa.Uuid(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_note_templates_appointment_type_id_appointment_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_note_templates_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("appointment_type_id", name=op.f("pk_note_templates")),
    )
    op.execute(SIGNED_IS_FINAL)
    for table in ("note_revisions", "note_addenda"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION reject_change()"
        )


def downgrade() -> None:
    for table in ("note_revisions", "note_addenda"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP TRIGGER visit_notes_signed_is_final ON visit_notes")
    op.execute("DROP FUNCTION visit_note_signed_is_final()")
    op.drop_table("note_templates")
    op.drop_index("ix_observations_patient_code_at", table_name="observations")
    op.drop_table("observations")
    op.drop_table("note_revisions")
    op.drop_index("ix_note_addenda_note", table_name="note_addenda")
    op.drop_table("note_addenda")
    op.drop_index(
        "uq_visit_notes_appointment_live",
        table_name="visit_notes",
        postgresql_where=sa.text("status <> 'discarded'"),
    )
    op.drop_index("ix_visit_notes_patient", table_name="visit_notes")
    op.drop_table("visit_notes")
