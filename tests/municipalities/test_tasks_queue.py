"""Enqueueing tasks by name: after commit, never on rollback, eager mode as a worker would run it;
and no service imports its app's tasks inside a function any more."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery, current_app, shared_task
from django.db import transaction

from config import celery_app
from municipalities.tasks_queue import enqueue, enqueue_on_commit, task_named

ROOT = Path(__file__).resolve().parents[2]
APPS = ("municipalities", "broadcasts", "reservations", "applications", "chatbot", "config")

ran: list[tuple[object, ...]] = []


@shared_task(name="tests.municipalities.probe_task")
def probe_task(*args: object) -> None:
    ran.append(args)


@pytest.fixture(autouse=True)
def _clear_probe() -> None:
    ran.clear()


def test_enqueue_on_commit_runs_the_named_task_after_the_commit_only(db, django_capture_on_commit_callbacks):
    # given / when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit("tests.municipalities.probe_task", 7, "x")
        # then: nothing yet inside the transaction
        assert ran == []
    assert (len(callbacks), ran) == (1, [(7, "x")])


def test_a_rollback_cancels_the_enqueue(db, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_on_commit("tests.municipalities.probe_task", 1)
            raise RuntimeError("rolled back")
    # then
    assert (callbacks, ran) == ([], [])


def test_enqueue_with_a_countdown_still_runs_eagerly_in_the_demo_and_tests(db):
    enqueue("tests.municipalities.probe_task", 3, countdown=60)
    assert ran == [(3,)]


def test_another_celery_app_in_the_process_does_not_take_the_projects_tasks(db):
    # given: a second Celery app, which Celery makes the current one (a probe, a tool)
    other = Celery("elsewhere", broker="memory://")
    assert current_app.main == "elsewhere"
    # when
    enqueue("tests.municipalities.probe_task", 5)
    # then: still the project's app, still eager
    assert ran == [(5,)]
    celery_app.set_current()
    other.close()


def test_a_web_process_that_never_imported_a_tasks_module_finds_its_task():
    # given: a fresh process set up as gunicorn sets Django up (no worker, no tasks imported)
    code = (
        "import django, sys; django.setup(); "
        "assert 'municipalities.tasks' not in sys.modules; "
        "from municipalities.tasks_queue import task_named; "
        "print(task_named('municipalities.tasks.webhook_events_drain_task').name)"
    )
    # when
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    # then
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "municipalities.tasks.webhook_events_drain_task"


def test_an_unknown_task_name_fails_loudly():
    with pytest.raises(KeyError):
        task_named("broadcasts.tasks.no_such_task")


def _source_files() -> list[Path]:
    return [path for app in APPS for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]


def test_every_task_name_enqueued_in_the_code_is_registered():
    # given: the names passed to the helpers across the apps
    pattern = re.compile(r"""(?:enqueue_on_commit|enqueue|task_named)\(\s*"([\w.]+)\"""")
    names = {name for path in _source_files() for name in pattern.findall(path.read_text())}
    # when
    missing = []
    for name in sorted(names):
        try:
            task_named(name)
        except KeyError:
            missing.append(name)
    # then
    assert len(names) >= 10
    assert missing == []


def test_no_module_imports_a_tasks_module_inside_a_function():
    # A services <-> tasks cycle was dodged that way; services now enqueue by name.
    found = []
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if not isinstance(inner, ast.ImportFrom):
                    continue
                names = [alias.name for alias in inner.names]
                if (inner.module or "").split(".")[-1] == "tasks" or "tasks" in names:
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert found == []
