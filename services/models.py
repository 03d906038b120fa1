"""Every table's model, imported in one place so Alembic sees the whole schema."""

from services.core.audit.models import AuditEvent
from services.core.auth.models import AuthSession, LoginFailure, User
from services.core.database import Base

metadata = Base.metadata

__all__ = ["AuditEvent", "AuthSession", "LoginFailure", "User", "metadata"]
