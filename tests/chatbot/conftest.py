"""Fixtures of the chatbot tests: the shared 5374 datasets and a clean answer index per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from chatbot import matching

# The shared data sits beside the repository (../shared/data/5374), read-only.
SHARED_5374 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "5374"
KYOTANGO = SHARED_5374 / "kyotango"
KANAZAWA = SHARED_5374 / "kanazawa"


@pytest.fixture(autouse=True)
def _fresh_index():
    # Ids can be reused between tests (SQLite rolls back sequences): never keep an index.
    matching.clear_all()
    cache.clear()
    yield
    matching.clear_all()


@pytest.fixture
def kyotango_town(town):
    from chatbot.garbage_import import files_from_directory
    from chatbot.services import garbage_import

    garbage_import(municipality=town, files=files_from_directory(KYOTANGO))
    return town
