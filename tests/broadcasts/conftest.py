"""Fixtures of the broadcasts tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from municipalities.line import ratelimit
from tests.fakeline import FakeLine


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def fake_line(settings) -> Iterator[FakeLine]:
    """The ``api`` backend against the fake LINE server (counts recipients, answers 409s)."""
    ratelimit.reset_local()
    with FakeLine(validate=True) as server:
        settings.LINE_BACKEND = "api"
        settings.LINE_USES_SIMULATOR = False
        settings.LINE_API_BASE_URL = server.base_url
        settings.HAS_REDIS = False
        settings.LINE_API_TIMEOUT_SECONDS = 10.0
        yield server
