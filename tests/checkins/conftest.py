from tests.appointments.conftest import clinic

__all__ = ["clinic"]
