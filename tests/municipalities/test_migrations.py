"""Migrations: the models and the migrations agree, and the index on the busy webhook table is
built without holding its writes."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_the_models_need_no_new_migration():
    out = io.StringIO()
    # --check exits with 1 (SystemExit) when a model change has no migration
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # CONCURRENTLY: not even sqlmigrate runs it in a transaction
def test_the_webhook_index_is_built_concurrently_on_postgresql():
    out = io.StringIO()
    call_command("sqlmigrate", "municipalities", "0003", stdout=out)
    sql = out.getvalue()
    assert 'CREATE INDEX CONCURRENTLY "munic_webhookevent_pending_idx"' in sql
    assert "BEGIN;" not in sql  # outside a transaction, as PostgreSQL requires


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_webhook_index_migration_runs_backwards_and_forwards():
    def has_index() -> bool:
        with connection.cursor() as cursor:
            return "munic_webhookevent_pending_idx" in connection.introspection.get_constraints(
                cursor, "municipalities_webhookevent"
            )

    assert has_index()
    call_command("migrate", "municipalities", "0002", verbosity=0)
    assert not has_index()
    call_command("migrate", "municipalities", "0003", verbosity=0)
    assert has_index()
