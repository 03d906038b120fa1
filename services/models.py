"""Every table's model module, imported in one place so Alembic sees the whole schema."""

from services.appointments import models as appointments
from services.checkins import models as checkins
from services.clinic import models as clinic
from services.core.audit import models as audit
from services.core.auth import models as auth
from services.core.database import Base
from services.core.throttle import models as throttle
from services.messaging import models as messaging
from services.notes import models as notes
from services.online import models as online
from services.patients import models as patients

# Importing a module declares its tables on Base.metadata; this names them all.
MODEL_MODULES = (
    audit,
    auth,
    throttle,
    clinic,
    patients,
    appointments,
    notes,
    messaging,
    checkins,
    online,
)

metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
