"""Migrations of the broadcasts app that move data."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from broadcasts.models import Broadcast


@pytest.mark.django_db(transaction=True)
def test_broadcasts_started_before_the_fan_out_in_steps_count_as_fanned_out(kenko):
    # given: a sending and a draft broadcast, from before the fan-out in steps
    call_command("migrate", "broadcasts", "0002", verbosity=0)
    state = MigrationExecutor(connection).loader.project_state(("broadcasts", "0002_deliverybatch_ids_lz4"))
    old_broadcast = state.apps.get_model("broadcasts", "Broadcast")
    started = timezone.now()
    sending = old_broadcast.objects.create(
        department_id=kenko.pk, title="配信中", status="sending", started_at=started
    )
    draft = old_broadcast.objects.create(department_id=kenko.pk, title="下書き", status="draft")
    # when
    call_command("migrate", "broadcasts", verbosity=0)
    # then: the sending one can finish (all its batches were written when it started)
    assert Broadcast.objects.get(pk=sending.pk).fanned_out_at == started
    assert Broadcast.objects.get(pk=draft.pk).fanned_out_at is None
