"""Migrations: the models and the migrations agree, and the indexes on the busy webhook table are
built and dropped without holding its writes."""

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
def test_the_webhook_indexes_are_built_and_dropped_concurrently_on_postgresql():
    sql = {}
    for migration in ("0003", "0004", "0005"):
        out = io.StringIO()
        call_command("sqlmigrate", "municipalities", migration, stdout=out)
        sql[migration] = out.getvalue()
    assert 'CREATE INDEX CONCURRENTLY "munic_webhookevent_pending_idx"' in sql["0003"]
    assert 'CREATE INDEX CONCURRENTLY "munic_webhookevent_lane_idx"' in sql["0004"]
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "munic_webhookevent_pending_idx"' in sql["0004"]
    assert 'CREATE INDEX CONCURRENTLY "munic_webhookevent_unfol_idx"' in sql["0005"]
    # 0005 drops the field indexes in Python (CONCURRENTLY, see the next test), not through an
    # AlterField that would drop and re-validate the foreign key
    assert "FOREIGN KEY" not in sql["0005"]
    # outside a transaction, as PostgreSQL requires, and the new column has no CHECK to validate
    assert all("BEGIN;" not in text for text in sql.values())
    assert "CHECK" not in sql["0004"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_webhook_index_migrations_run_backwards_and_forwards():
    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "municipalities_webhookevent")
        return {
            name
            for name, constraint in constraints.items()
            if constraint["index"] and not constraint["primary_key"] and not constraint["unique"]
        } - {"munic_webhookevent_reply_idx", "municipalities_webhookevent_created_at_af21a9cf"}

    def foreign_keys() -> list[str]:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "municipalities_webhookevent")
        return [name for name, constraint in constraints.items() if constraint["foreign_key"]]

    field_indexes = {
        "municipalities_webhookevent_municipality_id_2bb89930",
        "municipalities_webhookevent_line_user_id_cc86b9ca",
        "municipalities_webhookevent_line_user_id_cc86b9ca_like",
    }
    fk = foreign_keys()
    assert indexes() == {
        "munic_webhookevent_lane_idx",
        "munic_webhookevent_unfol_idx",
        "munic_webhookevent_taken_idx",
    }
    call_command("migrate", "municipalities", "0004", verbosity=0)
    assert indexes() == {"munic_webhookevent_lane_idx", *field_indexes}
    call_command("migrate", "municipalities", "0003", verbosity=0)
    assert indexes() == {"munic_webhookevent_pending_idx", *field_indexes}
    call_command("migrate", "municipalities", "0002", verbosity=0)
    assert indexes() == field_indexes
    # Every app forward again: going back to 0002 also took back the other apps' migrations that
    # depend on later core ones (applications 0002, the reservations and richmenus schema …).
    call_command("migrate", verbosity=0)
    assert indexes() == {
        "munic_webhookevent_lane_idx",
        "munic_webhookevent_unfol_idx",
        "munic_webhookevent_taken_idx",
    }
    assert foreign_keys() == fk and len(fk) == 1
