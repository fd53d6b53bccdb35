"""Celery entry points and their beat entries."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import broadcast_approve, broadcast_submit
from broadcasts.tasks import broadcast_unfollows_count_task, delivery_batches_requeue_stuck_task
from config.celery import app
from municipalities.models import Resident
from tests.broadcasts.factories import make_broadcast, make_residents


def test_beat_entries_name_registered_tasks():
    import broadcasts.tasks  # noqa: F401 - registers the tasks

    entries = {k: v for k, v in app.conf.beat_schedule.items() if v["task"].startswith("broadcasts.")}
    assert {v["task"] for v in entries.values()} == {
        "broadcasts.tasks.broadcasts_start_due_task",
        "broadcasts.tasks.delivery_batches_requeue_stuck_task",
        "broadcasts.tasks.broadcast_unfollows_count_task",
    }
    assert all(v["task"] in app.tasks for v in entries.values())


def test_hourly_block_count_makes_the_figure_final_after_a_day(
    kenko, kenko_editor, kenko_head, interests, town, django_capture_on_commit_callbacks
):
    # given: a broadcast sent 30 hours ago; one recipient blocked 2 hours after it
    readers = make_residents(town, 4, interests=[interests["kenko"]])
    broadcast = broadcast_submit(
        broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
    )
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_approve(broadcast=broadcast, actor=kenko_head)
    started = timezone.now() - timedelta(hours=30)
    Broadcast.objects.filter(pk=broadcast.pk).update(
        started_at=started, finished_at=started + timedelta(seconds=5)
    )
    Resident.objects.filter(pk=readers[0].pk).update(
        is_following=False, unfollowed_at=started + timedelta(hours=2)
    )
    # when
    assert broadcast_unfollows_count_task() == 1
    # then
    broadcast.refresh_from_db()
    assert broadcast.unfollow_count == 1
    assert broadcast.unfollows_counted_at is not None
    assert broadcast_unfollows_count_task() == 0  # final: not counted again


def test_sweeper_finishes_a_broadcast_whose_batches_are_all_closed(
    kenko, kenko_editor, kenko_head, interests, town
):
    # given: every batch was recorded but the finishing step never ran (the worker died)
    make_residents(town, 3, interests=[interests["kenko"]])
    broadcast = broadcast_approve(
        broadcast=broadcast_submit(
            broadcast=make_broadcast(kenko, category=interests["kenko"]), actor=kenko_editor
        ),
        actor=kenko_head,
    )
    from broadcasts.services import broadcast_start

    broadcast_start(broadcast_id=broadcast.pk)
    broadcast.batches.update(status="sent")
    # when
    delivery_batches_requeue_stuck_task()
    # then
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.delivered_count) == (BroadcastStatus.SENT, 3)
