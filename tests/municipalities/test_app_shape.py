"""Every feature app has the same shape (STYLE R1, R2): its error class in ``<app>/errors.py``, a
subclass of the core ServiceError, and its reads beyond one-liners in ``<app>/selectors.py``."""

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.conf import settings

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
    modules = [
        p
        for p in root.rglob("*.py")
        if p.name != "services.py"
        and "services" not in p.relative_to(root).parts  # the services package (STYLE R15)
        and "migrations" not in p.parts
    ]
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


CHECKED_PACKAGES = ["applications", "broadcasts", "chatbot", "config", "municipalities", "reservations"]
# A bare linter mark (noqa with its codes, type: ignore) silences a tool; it does not say why the
# import waits for the call.
_LINTER_MARK = re.compile(r"noqa(:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?")


def _gives_a_reason(line: str) -> bool:
    _code, hash_, comment = line.partition("#")
    return bool(hash_) and re.search(r"\w", _LINTER_MARK.sub("", comment)) is not None


def _unexplained_function_imports(path: Path) -> list[int]:
    """Lines of the imports inside a function body that have no comment saying why: neither on
    the import's own line nor on the line above it (or above the run of imports it closes)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    imports = {
        node
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    import_by_last_line = {node.end_lineno: node for node in imports}
    unexplained = []
    for node in imports:
        first = node
        while (previous := import_by_last_line.get(first.lineno - 1)) is not None:
            first = previous
        own_lines = lines[node.lineno - 1 : node.end_lineno]
        above = lines[first.lineno - 2] if first.lineno > 1 else ""
        commented_above = above.strip().startswith("#") and _gives_a_reason(above)
        if not (commented_above or any(_gives_a_reason(line) for line in own_lines)):
            unexplained.append(node.lineno)
    return sorted(unexplained)


def test_an_import_inside_a_function_says_why_it_is_not_at_module_level():
    # given: the project's own modules (migrations are generated)
    root = Path(settings.BASE_DIR)
    sources = [
        p for pkg in CHECKED_PACKAGES for p in (root / pkg).rglob("*.py") if "migrations" not in p.parts
    ]
    # when
    unexplained = {
        f"{p.relative_to(root)}:{line}" for p in sources for line in _unexplained_function_imports(p)
    }
    # then
    assert sorted(unexplained) == []


def test_the_import_check_wants_a_reason_not_a_linter_mark(tmp_path):
    # given: a run of imports under a comment, one import with a comment on its line, and a
    # second run (after a statement) with no comment but a linter mark
    lint_mark = "no" + "qa: F401"
    module = tmp_path / "module.py"
    module.write_text(
        "import os\n"
        "\n"
        "\n"
        "def f():\n"
        "    # Why: the SDK is slow to load\n"
        "    import json\n"
        "    from decimal import (\n"
        "        Decimal,\n"
        "    )\n"
        "    import csv  # stdlib, but only for exports\n"
        "    x = 1\n"
        "    import re\n"
        f"    import io  # {lint_mark}\n"
        "    return os, json, Decimal, csv, re, io, x\n",
        encoding="utf-8",
    )
    # when
    unexplained = _unexplained_function_imports(module)
    # then
    assert unexplained == [12, 13]
