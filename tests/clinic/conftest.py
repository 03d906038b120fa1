from __future__ import annotations

import pytest

from tests.clinic.factories import ClinicFactory
from tests.factories import Factory


@pytest.fixture
def clinic(factory: Factory) -> ClinicFactory:
    return ClinicFactory(factory)
