from __future__ import annotations

import pytest

from reservations.models import Menu, Slot
from tests.reservations.factories import MenuFactory, SlotFactory


@pytest.fixture
def menu(kenko) -> Menu:
    return MenuFactory(department=kenko, name="乳幼児歯科健診")


@pytest.fixture
def slot(menu) -> Slot:
    return SlotFactory(menu=menu, capacity=5)
