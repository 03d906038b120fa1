"""patients: records, consent history, search support

Revision ID: 5d1f0c2b7e41
Revises: a3ecb4e22bac
Create Date: 2026-11-23 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d1f0c2b7e41"
down_revision: str | None = "a3ecb4e22bac"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unaccent() is only STABLE (its dictionary could change), so it cannot feed a generated
# column or an index; this wrapper names the dictionary explicitly and is declared IMMUTABLE,
# the documented way to index unaccented text.
UNACCENT = """
CREATE FUNCTION clinic_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
"""

APPEND_ONLY = """
CREATE FUNCTION reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER patient_consents_append_only
    BEFORE UPDATE OR DELETE ON patient_consents
    FOR EACH ROW EXECUTE FUNCTION reject_change();
"""

SEARCH_NAME = (
    "clinic_unaccent(lower(given_name || ' ' || family_name"
    " || coalesce(' ' || preferred_name, '')))"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(UNACCENT)
    op.execute("CREATE SEQUENCE patient_chart_number_seq")
    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "chart_number",
            sa.String(length=32),
            server_default=sa.text(
                "'P' || lpad(nextval('patient_chart_number_seq')::text, 6, '0')"
            ),
            nullable=False,
        ),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", postgresql.CITEXT(), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "preferred_channel",
            sa.String(length=8),
            server_default=sa.text("'none'"),
            nullable=False,
        ),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("home_location_id", sa.Uuid(), nullable=True),
        sa.Column("emergency_contact_name", sa.String(length=200), nullable=True),
        sa.Column("emergency_contact_phone", sa.String(length=20), nullable=True),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.String(length=50)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("front_desk_note", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'active'"), nullable=False
        ),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_name", sa.Text(), sa.Computed(SEARCH_NAME, persisted=True), nullable=False
        ),
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
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "date_of_birth >= DATE '1900-01-01'", name=op.f("ck_patients_dob_after_1900")
        ),
        sa.CheckConstraint(
            "sex IS NULL OR sex IN ('female', 'male', 'other', 'undisclosed')",
            name=op.f("ck_patients_sex_valid"),
        ),
        sa.CheckConstraint(
            "preferred_channel IN ('sms', 'email', 'none')", name=op.f("ck_patients_channel_valid")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'archived')", name=op.f("ck_patients_status_valid")
        ),
        sa.CheckConstraint(
            "(status = 'archived') = (archived_at IS NOT NULL)",
            name=op.f("ck_patients_archived_at_matches"),
        ),
        sa.CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name=op.f("ck_patients_phone_e164")),
        sa.CheckConstraint(
            r"emergency_contact_phone ~ '^\+[1-9][0-9]{1,14}$'",
            name=op.f("ck_patients_emergency_phone_e164"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_patients_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["home_location_id"],
            ["locations.id"],
            name=op.f("fk_patients_home_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("chart_number", name=op.f("uq_patients_chart_number")),
    )
    op.execute("ALTER SEQUENCE patient_chart_number_seq OWNED BY patients.chart_number")
    op.create_index(
        "ix_patients_search_name_trgm",
        "patients",
        ["search_name"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={"search_name": "gist_trgm_ops"},
    )
    op.create_index("ix_patients_phone", "patients", ["phone"], unique=False)
    op.create_index("ix_patients_email", "patients", ["email"], unique=False)
    op.create_index("ix_patients_date_of_birth", "patients", ["date_of_birth"], unique=False)
    op.create_table(
        "patient_consents",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'email')", name=op.f("ck_patient_consents_channel_valid")
        ),
        sa.CheckConstraint(
            "method IN ('verbal', 'phone', 'written', 'electronic', 'import')",
            name=op.f("ck_patient_consents_method_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_consents_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_patient_consents_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_consents")),
    )
    op.create_index(
        "ix_patient_consents_patient_channel",
        "patient_consents",
        ["patient_id", "channel", "recorded_at"],
        unique=False,
    )
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.drop_table("patient_consents")
    op.execute("DROP FUNCTION reject_change()")
    op.drop_table("patients")  # its sequence goes with it (OWNED BY)
    op.execute("DROP FUNCTION clinic_unaccent(text)")
