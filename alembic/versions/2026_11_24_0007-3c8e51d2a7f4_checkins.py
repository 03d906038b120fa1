"""check-ins: published questionnaires (post-visit v1 seeded), check-ins, answers, alerts

Revision ID: 3c8e51d2a7f4
Revises: 6e2f4a1c9b30
Create Date: 2026-11-24 05:18:18.829024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3c8e51d2a7f4"
down_revision: str | None = "6e2f4a1c9b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A copy of services/checkins/questionnaires/post_visit_v1.json as it was published (a test
# keeps the two equal). A published version never changes: a new wording is a new version
# in a new migration, never an edit here or in the file.
POST_VISIT_V1 = {
    "key": "post_visit",
    "version": 1,
    "title": "How are you since your visit?",
    "intro": "A few short questions about how you have been since your last visit. It takes "
    "about two minutes. Your chiropractor reads your answers.",
    "notice": "These answers are not read around the clock. If you have sudden, severe symptoms "
    "now, call your local emergency number.",
    "attribution": "Staff-only note, not shown to patients. Instruments: 0-10 numeric rating "
    "scales (pain, sleep; free to use) and the Patient Global Impression of "
    "Change (PGIC; Guy 1976, ECDEU; public domain), scored 1 = very much improved "
    "to 7 = very much worse. No licensed instrument (such as HIT-6) is included.",
    "items": [
        {
            "id": "pain_now",
            "kind": "nrs",
            "label": "How much pain do you have right now?",
            "help": "0 means no pain at all, 10 means the worst pain you can imagine.",
            "min_label": "No pain",
            "max_label": "Worst pain imaginable",
            "required": True,
            "code": "pain_nrs",
            "unit": "score",
        },
        {
            "id": "headache",
            "kind": "choice",
            "label": "Since your visit, how bad have your headaches been?",
            "required": True,
            "options": [
                {"value": 0, "label": "No headache"},
                {"value": 1, "label": "Mild"},
                {"value": 2, "label": "Moderate"},
                {"value": 3, "label": "Severe"},
            ],
            "code": "headache_severity",
            "unit": "grade",
        },
        {
            "id": "migraine_days",
            "kind": "count",
            "label": "On how many days have you had a migraine since your last check-in?",
            "help": "Enter 0 if you have had none.",
            "max": 31,
            "required": True,
            "code": "migraine_days",
            "unit": "d",
        },
        {
            "id": "sleep_quality",
            "kind": "nrs",
            "label": "How well did you sleep last night?",
            "help": "0 means very badly, 10 means very well.",
            "min_label": "Very badly",
            "max_label": "Very well",
            "required": True,
            "code": "sleep_quality",
            "unit": "score",
        },
        {
            "id": "pgic",
            "kind": "choice",
            "label": "Since you started care, how would you describe the change in your condition?",
            "required": True,
            "options": [
                {"value": 1, "label": "Very much improved"},
                {"value": 2, "label": "Much improved"},
                {"value": 3, "label": "A little improved"},
                {"value": 4, "label": "No change"},
                {"value": 5, "label": "A little worse"},
                {"value": 6, "label": "Much worse"},
                {"value": 7, "label": "Very much worse"},
            ],
            "code": "pgic",
            "unit": "score",
        },
        {
            "id": "rf_sudden_headache",
            "kind": "yesno",
            "label": "Have you had a sudden, severe headache unlike any you have had before?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "rf_dizziness",
            "kind": "yesno",
            "label": "Have you felt dizzy, or felt the room spinning?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "rf_vision",
            "kind": "yesno",
            "label": "Have you had double vision, or lost some or all of your sight?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "rf_speech_swallowing",
            "kind": "yesno",
            "label": "Have you had trouble speaking or swallowing?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "rf_numbness_weakness",
            "kind": "yesno",
            "label": "Have you had numbness or weakness in your face, an arm or a leg?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "rf_neck_pain",
            "kind": "yesno",
            "label": "Have you had new neck pain that is not like your usual pain?",
            "required": True,
            "red_flag": True,
        },
        {
            "id": "comments",
            "kind": "text",
            "label": "Is there anything else you would like us to know?",
            "required": False,
            "max_length": 2000,
        },
    ],
}

APPEND_ONLY_TABLES = ("questionnaires", "checkin_answers")


def upgrade() -> None:
    op.create_table(
        "questionnaires",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "definition ->> 'key' = key AND definition ->> 'version' = version::text",
            name=op.f("ck_questionnaires_definition_matches"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_questionnaires_version_positive")),
        sa.PrimaryKeyConstraint("key", "version", name=op.f("pk_questionnaires")),
    )
    op.create_table(
        "checkins",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("questionnaire_key", sa.String(length=40), nullable=False),
        sa.Column("questionnaire_version", sa.Integer(), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'scheduled'"), nullable=False
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'answered') = (answered_at IS NOT NULL)",
            name=op.f("ck_checkins_answered_at_matches"),
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'answered', 'expired', 'cancelled')",
            name=op.f("ck_checkins_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_checkins_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_checkins_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire_key", "questionnaire_version"],
            ["questionnaires.key", "questionnaires.version"],
            name=op.f("fk_checkins_questionnaire_key_questionnaires"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint(
            "appointment_id",
            "questionnaire_key",
            "due_at",
            name=op.f("uq_checkins_appointment_id_questionnaire_key_due_at"),
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_checkins_token_hash")),
    )
    op.create_index(
        "ix_checkins_due",
        "checkins",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index("ix_checkins_patient", "checkins", ["patient_id", "due_at"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("checkin_id", sa.Uuid(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.String(length=80)), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('urgent', 'normal')", name=op.f("ck_alerts_severity_valid")
        ),
        sa.CheckConstraint(
            "(acknowledged_by IS NULL) = (acknowledged_at IS NULL)",
            name=op.f("ck_alerts_acknowledged_together"),
        ),
        sa.CheckConstraint("cardinality(reasons) >= 1", name=op.f("ck_alerts_has_reasons")),
        sa.CheckConstraint(
            "comment IS NULL OR (acknowledged_at IS NOT NULL AND length(comment) <= 2000)",
            name=op.f("ck_alerts_comment_on_acknowledgement"),
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_alerts_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkins.id"], name=op.f("fk_alerts_checkin_id_checkins")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_alerts_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("checkin_id", name=op.f("uq_alerts_checkin_id")),
    )
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["severity", "created_at"],
        unique=False,
        postgresql_where=sa.text("acknowledged_at IS NULL"),
    )
    op.create_index("ix_alerts_patient", "alerts", ["patient_id", "created_at"], unique=False)
    op.create_table(
        "checkin_answers",
        sa.Column("checkin_id", sa.Uuid(), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkins.id"], name=op.f("fk_checkin_answers_checkin_id_checkins")
        ),
        sa.PrimaryKeyConstraint("checkin_id", name=op.f("pk_checkin_answers")),
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION reject_change()"
        )
    questionnaires = sa.table(
        "questionnaires",
        sa.column("key", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("definition", postgresql.JSONB()),
    )
    op.bulk_insert(
        questionnaires, [{"key": "post_visit", "version": 1, "definition": POST_VISIT_V1}]
    )


def downgrade() -> None:
    for table in reversed(APPEND_ONLY_TABLES):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_table("checkin_answers")
    op.drop_index("ix_alerts_patient", table_name="alerts")
    op.drop_index(
        "ix_alerts_open", table_name="alerts", postgresql_where=sa.text("acknowledged_at IS NULL")
    )
    op.drop_table("alerts")
    op.drop_index("ix_checkins_patient", table_name="checkins")
    op.drop_index(
        "ix_checkins_due", table_name="checkins", postgresql_where=sa.text("status = 'scheduled'")
    )
    op.drop_table("checkins")
    op.drop_table("questionnaires")
