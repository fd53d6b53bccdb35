from __future__ import annotations

import pytest

from tests.facilities.factories import FacilityWorld, facility_world


@pytest.fixture
def world(kenko) -> FacilityWorld:
    """A facility of 健康福祉課 (the world's department with head/editor/viewer fixtures)."""
    return facility_world(kenko, name="町民体育館")
