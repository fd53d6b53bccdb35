"""Rich-menu fixtures: the ``api`` backend against the fake LINE (every body checked against
LINE's OpenAPI document there)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from municipalities.line import ratelimit, towncache
from tests.fakeline import FakeLine


@pytest.fixture(autouse=True)
def _no_cached_disaster_mode() -> Iterator[None]:
    # 災害モード is cached per process and town (richmenus.line_handlers); ids can be reused
    # between tests on SQLite, so no copy outlives its test.
    towncache.clear_all_local()
    yield
    towncache.clear_all_local()


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    ratelimit.reset_local()
    with FakeLine() as server:
        yield server


@pytest.fixture
def line_api(fake, settings) -> FakeLine:
    settings.LINE_BACKEND = "api"
    settings.LINE_USES_SIMULATOR = False
    settings.LINE_API_BASE_URL = fake.base_url
    settings.HAS_REDIS = False
    settings.LINE_API_TIMEOUT_SECONDS = 5.0
    # creates are limited to 1/s by the client's limiter (LINE: 100 an hour); tests go faster
    settings.LINE_RATE_LIMITS = {"richmenu_create": 1000, "richmenu_batch": 1000}
    return fake
