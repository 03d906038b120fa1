from services.core.audit.service import record

__all__ = ["record"]
