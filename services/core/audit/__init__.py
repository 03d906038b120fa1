from services.core.audit.service import (
    record,
    record_about,
    record_for_patient,
    record_listed,
    record_many,
    record_many_for_patient,
)

__all__ = [
    "record",
    "record_about",
    "record_for_patient",
    "record_listed",
    "record_many",
    "record_many_for_patient",
]
