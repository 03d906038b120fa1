"""Patient records (demographics, contact, consent history). No clinical content here."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base

CHART_NUMBER_SEQUENCE = "patient_chart_number_seq"
# Search key: lower-case, accents removed (immutable wrapper around unaccent, see migration).
SEARCH_NAME_SQL = (
    "clinic_unaccent(lower(given_name || ' ' || family_name"
    " || coalesce(' ' || preferred_name, '')))"
)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("date_of_birth >= DATE '1900-01-01'", name="dob_after_1900"),
        CheckConstraint(
            "sex IS NULL OR sex IN ('female', 'male', 'other', 'undisclosed')", name="sex_valid"
        ),
        CheckConstraint("preferred_channel IN ('sms', 'email', 'none')", name="channel_valid"),
        CheckConstraint("status IN ('active', 'archived')", name="status_valid"),
        # E.164 only: services/core/phones.py is the one way a number is written.
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),
        CheckConstraint(
            r"emergency_contact_phone ~ '^\+[1-9][0-9]{1,14}$'", name="emergency_phone_e164"
        ),
        CheckConstraint(
            "(status = 'archived') = (archived_at IS NOT NULL)", name="archived_at_matches"
        ),
        Index(
            "ix_patients_search_name_trgm",
            "search_name",
            postgresql_using="gist",
            postgresql_ops={"search_name": "gist_trgm_ops"},
        ),
        Index("ix_patients_phone", "phone"),
        Index("ix_patients_email", "email"),
        Index("ix_patients_date_of_birth", "date_of_birth"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    chart_number: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        server_default=text(f"'P' || lpad(nextval('{CHART_NUMBER_SEQUENCE}')::text, 6, '0')"),
    )
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(CITEXT)
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    preferred_channel: Mapped[str] = mapped_column(String(8), server_default=text("'none'"))
    time_zone: Mapped[str] = mapped_column(String(64))
    home_location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id"))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(200))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    front_desk_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_name: Mapped[str] = mapped_column(Text, Computed(SEARCH_NAME_SQL, persisted=True))
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __mapper_args__ = {"version_id_col": version}


class PatientConsent(Base):
    """One decision about one channel. Append-only: the current consent is the latest row."""

    __tablename__ = "patient_consents"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_valid"),
        CheckConstraint(
            "method IN ('verbal', 'phone', 'written', 'electronic', 'import')", name="method_valid"
        ),
        Index("ix_patient_consents_patient_channel", "patient_id", "channel", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool]
    method: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(500))
