"""Fixtures of the applications tests."""

from __future__ import annotations

import pytest

from applications.models import ApplicationForm
from tests.applications.factories import simple_form


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def form(kenko) -> ApplicationForm:
    return simple_form(kenko, title="犬の登録申請")


@pytest.fixture
def fee_form(somu) -> ApplicationForm:
    return simple_form(somu, title="住民票の写しの請求", fee=300, payment_methods=["sandbox", "counter"])
