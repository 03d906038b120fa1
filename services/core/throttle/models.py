"""Fixed-window counters kept in PostgreSQL, so every API replica sees the same count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.database import Base


class ThrottleCounter(Base):
    """Hits on one key (``login:addr:<ip>``, ``login:email:<email>``) in its current window.

    A row whose window has ended counts nothing; the housekeeping task deletes it.
    """

    __tablename__ = "throttle_counters"
    __table_args__ = (CheckConstraint("hits >= 0", name="hits_not_negative"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
