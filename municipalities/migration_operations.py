"""Migration operations of the project's own, for tables that are large and written to all day."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


class _ConcurrentlyOnPostgreSQL:
    """The ``… CONCURRENTLY`` operation on PostgreSQL, where the plain one would hold writes to
    the table (webhook events arriving) for as long as it takes; the plain operation (``plain``)
    elsewhere (SQLite, the embedded demo). The migration needs ``atomic = False``."""

    plain: type[AddIndex] | type[RemoveIndex]

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)  # type: ignore[arg-type]

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)  # type: ignore[arg-type]


class AddIndexWithoutLocking(_ConcurrentlyOnPostgreSQL, AddIndexConcurrently):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL. If a concurrent build fails, PostgreSQL
    leaves an invalid index behind: drop it before migrating again."""

    plain = AddIndex


class RemoveIndexWithoutLocking(_ConcurrentlyOnPostgreSQL, RemoveIndexConcurrently):
    """``DROP INDEX CONCURRENTLY`` on PostgreSQL."""

    plain = RemoveIndex
