"""Builders for the permission-matrix test (tests/municipalities/test_permission_matrix.py).

The matrix walks ``admin.site._registry``; for every registered model it needs one object
owned by a given department. Each app registers a builder in ``tests/<app>/factories.py``::

    from tests.matrix import matrix_builder

    @matrix_builder(Slot)
    def _slot(department):
        return SlotFactory(menu__department=department)

A builder takes a ``Department`` and returns a saved object of the model that belongs to that
department (or, for municipality-owned models, to its municipality). A model registered in the
admin without a builder fails the matrix test, so new models cannot slip through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

BUILDERS: dict[type[models.Model], Callable[[Any], models.Model]] = {}


def matrix_builder(
    model: type[models.Model],
) -> Callable[[Callable[[Any], models.Model]], Callable[[Any], models.Model]]:
    def register(builder: Callable[[Any], models.Model]) -> Callable[[Any], models.Model]:
        BUILDERS[model] = builder
        return builder

    return register
