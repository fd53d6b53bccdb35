"""Services fail one way: their app's ServiceError, with a Japanese message and a code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from municipalities import permissions
from municipalities.errors import MunicipalityError, ServiceError, full_clean_or
from municipalities.models import Department

ROOT = Path(__file__).resolve().parents[2]
SERVICE_MODULES = sorted(
    [
        *ROOT.glob("*/services.py"),
        *ROOT.glob("*/services/*.py"),
        *ROOT.glob("*/*/services.py"),
    ]
)


def test_full_clean_or_raises_the_app_error_with_every_message_by_field_label(town):
    # given: a department with a blank code and a blank name
    department = Department(municipality=town, code="", name="")
    # when
    with pytest.raises(MunicipalityError) as excinfo:
        full_clean_or(department, error=MunicipalityError)
    # then
    labels = [str(Department._meta.get_field(name).verbose_name) for name in ("code", "name")]
    assert excinfo.value.code == "invalid"
    assert all(f"{label}:" in excinfo.value.message for label in labels)
    assert "このフィールドは空ではいけません" in excinfo.value.message


def test_require_refuses_with_the_app_error_and_its_code(kenko_viewer, kenko):
    # when
    with pytest.raises(MunicipalityError) as excinfo:
        permissions.require(kenko_viewer, "change", kenko, error=MunicipalityError)
    # then
    assert excinfo.value.code == "permission_denied"
    assert excinfo.value.message == "この操作を行う権限がありません。"


def test_require_lets_an_allowed_user_through(town_admin, kenko):
    assert permissions.require(town_admin, "change", kenko, error=ServiceError) is None


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_service_lets_permission_denied_or_validation_error_escape(path):
    # A service module neither raises Django's PermissionDenied/ValidationError nor calls the
    # policy or full_clean() without its app's error: it goes through require(..., error=) and
    # full_clean_or(..., error=).
    source = path.read_text(encoding="utf-8")
    assert "PermissionDenied" not in source
    assert "ValidationError" not in source
    assert not re.search(r"\.full_clean\(", source)
    for call in re.finditer(r"\brequire(?:_save)?\((?:[^()]|\([^()]*\))*\)", source):
        assert "error=" in call.group(0), call.group(0)


def test_the_service_modules_are_found():
    assert len(SERVICE_MODULES) >= 10
