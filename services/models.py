"""Every table's model, imported in one place so Alembic sees the whole schema."""

from services.appointments.models import (
    Appointment,
    AppointmentSeries,
    CalendarFeed,
    IdempotencyKey,
    StatusChange,
    WaitlistEntry,
)
from services.checkins.models import (
    Alert,
    Checkin,
    CheckinAnswers,
    CheckinPolicy,
    QuestionnaireVersion,
)
from services.clinic.models import (
    AppointmentType,
    Location,
    MessageSettings,
    Practitioner,
    PractitionerLocation,
    Room,
    ScheduleException,
    WorkingHours,
)
from services.core.audit.models import AuditEvent
from services.core.auth.models import AuthSession, User
from services.core.database import Base
from services.core.throttle.models import ThrottleCounter
from services.messaging.models import InboundSms, Message, MessageEvent, MessageLink
from services.notes.models import (
    NoteAddendum,
    NoteRevision,
    NoteTemplate,
    Observation,
    VisitNote,
)
from services.patients.models import Patient, PatientConsent

metadata = Base.metadata

__all__ = [
    "Alert",
    "Appointment",
    "AppointmentSeries",
    "AppointmentType",
    "AuditEvent",
    "AuthSession",
    "CalendarFeed",
    "Checkin",
    "CheckinAnswers",
    "CheckinPolicy",
    "IdempotencyKey",
    "InboundSms",
    "Location",
    "Message",
    "MessageEvent",
    "MessageLink",
    "MessageSettings",
    "NoteAddendum",
    "NoteRevision",
    "NoteTemplate",
    "Observation",
    "Patient",
    "PatientConsent",
    "Practitioner",
    "PractitionerLocation",
    "QuestionnaireVersion",
    "Room",
    "ScheduleException",
    "StatusChange",
    "ThrottleCounter",
    "User",
    "VisitNote",
    "WaitlistEntry",
    "WorkingHours",
    "metadata",
]
