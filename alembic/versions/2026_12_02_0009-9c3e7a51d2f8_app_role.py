"""app role: the API, worker and beat get only the privileges each table needs

Migrations run as the owner of the tables; the processes log in as a member of the
``clinic_app`` role (services/core/db_roles.py). It may read every table, write the
ordinary ones, only add rows to the append-only ones, and delete only where the code
deletes (expired sessions and keys, unlinked hours and practitioners' locations, a removed
check-in policy). No TRUNCATE, no DDL: CREATE on the schema is the owner's alone. Default
privileges give tables that later migrations create SELECT, INSERT, UPDATE; such a
migration grants DELETE or revokes UPDATE where its table needs it.

Revision ID: 9c3e7a51d2f8
Revises: 8a41c6e0d2b7
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c3e7a51d2f8"
down_revision: str | None = "8a41c6e0d2b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "clinic_app"
# Rows are added, never changed: their triggers reject UPDATE/DELETE, and the app could
# not even ask.
APPEND_ONLY = (
    "audit_events",
    "patient_consents",
    "appointment_status_changes",
    "note_revisions",
    "note_addenda",
    "message_events",
    "checkin_answers",
)
# Published by migrations, read by the app.
READ_ONLY = ("questionnaires", "alembic_version")
# The tables the app deletes rows of (everything else is kept with a status).
DELETES = (
    "auth_sessions",
    "login_failures",
    "idempotency_keys",
    "practitioner_locations",
    "working_hours",
    "schedule_exceptions",
    "checkin_policies",
)

# Created here when missing (needs a role that may create roles); provisioning usually
# made it already, with the logins that are its members.
ENSURE_ROLE = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app') THEN
    BEGIN
      CREATE ROLE clinic_app NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'role clinic_app does not exist and % may not create it: as a superuser, run CREATE ROLE clinic_app NOLOGIN and GRANT clinic_app TO the app''s login', current_user;
    END;
  END IF;
END $$
"""


def upgrade() -> None:
    op.execute(ENSURE_ROLE)
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {APP}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP}")
    op.execute(f"REVOKE UPDATE ON {', '.join(APPEND_ONLY)} FROM {APP}")
    op.execute(f"REVOKE INSERT, UPDATE ON {', '.join(READ_ONLY)} FROM {APP}")
    op.execute(f"GRANT DELETE ON {', '.join(DELETES)} TO {APP}")
    # The patient import moves the chart-number sequence past imported numbers (setval).
    op.execute(f"GRANT UPDATE ON SEQUENCE patient_chart_number_seq TO {APP}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO {APP}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP}"
    )


def downgrade() -> None:
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP}")
    # The role itself stays: other databases on the server may grant to it.
