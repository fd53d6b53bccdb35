"""Enqueue Celery tasks by name (STYLE R3, R10).

Services enqueue their side effects through these helpers instead of importing their app's
``tasks`` module, which imports the services: the services↔tasks import cycle disappears, and
the imports run one way only (tasks → services), at module level.

The task is looked up in the Celery app's registry when the message is sent, and sent with
``delay``/``apply_async``, not with ``send_task``: ``send_task`` ignores
``CELERY_TASK_ALWAYS_EAGER``, and the demo and the tests run tasks eagerly, in process.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import Task
from django.db import transaction

from config import celery_app


def task_named(name: str) -> Task:
    """The registered task ``name`` (``"<app>.tasks.<name>_task"``). KeyError if there is none.

    A web process has not necessarily imported the apps' ``tasks`` modules (a worker imports
    them at start, and Celery's lazy autodiscovery does not run in gunicorn): on a miss, the
    module the name points at is imported, which registers its tasks.
    The project's app is named, not ``current_app``: any other Celery app created in the
    process (a probe, a tool) becomes the current one, with its own broker and no eager mode.
    """
    app = celery_app
    if name not in app.tasks:
        module, _, _function = name.rpartition(".")
        if module:
            importlib.import_module(module)
    return app.tasks[name]


def enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    """Send task ``name`` with JSON ``args`` now (eager mode: run it now). For callers that are
    not inside a transaction (beat tasks, the webhook view); services use ``enqueue_on_commit``."""
    task = task_named(name)
    if countdown is None:
        task.delay(*args)
    else:
        task.apply_async(args, countdown=countdown)


def enqueue_on_commit(name: str, *args: Any, countdown: float | None = None) -> None:
    """Send task ``name`` with ``args`` once the current transaction commits; a rollback
    (including an import-export dry run) cancels it. Outside a transaction: at once."""
    transaction.on_commit(lambda: enqueue(name, *args, countdown=countdown))
