"""Every feature app has the same shape (STYLE R1, R2): its error class in ``<app>/errors.py``, a
subclass of the core ServiceError, and its reads beyond one-liners in ``<app>/selectors.py``."""

import importlib

import pytest

from municipalities.errors import ServiceError

APP_ERRORS = {
    "applications": "ApplicationError",
    "broadcasts": "BroadcastError",
    "chatbot": "ChatbotError",
    "reservations": "ReservationError",
}


@pytest.mark.parametrize(("app", "name"), sorted(APP_ERRORS.items()))
def test_each_app_error_lives_in_the_apps_errors_module_and_is_a_service_error(app, name):
    # given
    errors = importlib.import_module(f"{app}.errors")
    # when
    error = getattr(errors, name)
    # then
    assert issubclass(error, ServiceError)
    assert error.__module__ == f"{app}.errors"


def test_reservation_error_is_still_importable_from_the_services_package():
    # given
    from reservations import errors, services

    # then: one class, re-exported
    assert services.ReservationError is errors.ReservationError


@pytest.mark.parametrize("app", sorted(APP_ERRORS))
def test_each_app_has_a_selectors_module(app):
    # when
    selectors = importlib.import_module(f"{app}.selectors")
    # then
    assert selectors.__name__ == f"{app}.selectors"


WRITE_METHODS = {"save", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}


def _orm_writes(path):
    """(line, call) of the ORM writes in one module: ``.save()``-like calls, and ``create``/``update``
    reached through a manager (``X.objects....create(``)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        through_manager = "objects" in ast.unparse(node.func.value)
        if name in WRITE_METHODS or (name in {"create", "update"} and through_manager):
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_chatbot_writes_only_in_its_services():
    # given: every module of the chatbot app except its services and migrations
    from pathlib import Path

    import chatbot

    root = Path(chatbot.__file__).parent
    modules = [p for p in root.rglob("*.py") if p.name != "services.py" and "migrations" not in p.parts]
    # when
    writes = {str(p.relative_to(root)): w for p in modules if (w := _orm_writes(p))}
    # then
    assert writes == {}


def test_nfkc_and_width_normalisation_lives_only_in_the_core_jp_module():
    # given: the project's own packages
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    packages = ["applications", "broadcasts", "chatbot", "config", "municipalities", "reservations"]
    sources = [p for pkg in packages for p in (root / pkg).rglob("*.py") if "migrations" not in p.parts]
    # when
    users = sorted(
        str(p.relative_to(root)) for p in sources if "unicodedata" in p.read_text(encoding="utf-8")
    )
    # then
    assert users == ["municipalities/jp.py"]
