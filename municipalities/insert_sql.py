"""INSERT statements written by hand for PostgreSQL's one-statement paths, with the ORM's values.

Where a hot path writes several tables in one statement (``line.pgwrites``: the talk log, the
metric events and the event's ``processed``; ``reservations.services.booking_pg``: the place,
the booking and its audit entry), the rows are unsaved model instances and their values are
what ``save()`` or ``bulk_create`` would send: each field's ``pre_save`` (timestamps) and
``get_db_prep_save`` (JSON, encrypted fields). Only the SQL around them is written here, once
per shape, instead of compiling an ``InsertQuery`` for every event.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection, models


@cache
def insert_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns ``bulk_create`` writes for rows without a primary key: all but the automatic
    id and generated columns, in the model's order."""
    opts = model._meta
    return tuple(f for f in opts.concrete_fields if not f.generated and f is not opts.auto_field)


def insert_columns(model: type[models.Model]) -> str:
    """``"col", …`` of ``insert_fields``, quoted."""
    return ", ".join(connection.ops.quote_name(f.column) for f in insert_fields(model))


def insert_params(row: models.Model) -> list[Any]:
    """The values the ORM would INSERT for ``row`` (unsaved), in ``insert_fields`` order."""
    return [
        field.get_db_prep_save(field.pre_save(row, True), connection) for field in insert_fields(type(row))
    ]


@cache
def _values_statement(model: type[models.Model], count: int) -> str:
    one = "(" + ", ".join(["%s"] * len(insert_fields(model))) + ")"
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({insert_columns(model)}) VALUES {', '.join([one] * count)}"  # noqa: S608


def insert_values(rows: list[models.Model]) -> tuple[str, list[Any]]:
    """``INSERT INTO … VALUES (…), (…)`` of ``rows`` (unsaved, of one model) and its parameters."""
    return _values_statement(type(rows[0]), len(rows)), [
        value for row in rows for value in insert_params(row)
    ]
