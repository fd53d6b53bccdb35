"""The Celery app and the one beat schedule of the project.

Every periodic task is listed here, each with its crontab and a crontab.guru reading.
Tasks take ids (JSON only) and are idempotent: see STYLE R10.
"""

import logging
import math
import os
import time

from celery import Celery, signals
from celery.schedules import crontab
from celery.worker.consumer.consumer import Consumer
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Database connections in the worker follow Django's own rule, as around a request: a
# connection is closed before and after a task only when it is broken or older than
# CONN_MAX_AGE. Celery's Django fixup would close every connection around every task
# (celery#9824), a PostgreSQL connect per task, which at 200 broadcast batches a second is a
# third of the worker's time. With DB_REUSE_MAX it closes them only every 1,000 tasks.
app.conf.CELERY_DB_REUSE_MAX = 1000

# CONN_HEALTH_CHECKS makes the first query of every task a "SELECT 1" first. A connection that
# was checked or used less than this long ago (a short task that ended just now) is not checked
# again: at 200 broadcast batches a second the check would be a quarter of the worker's
# statements. After a pause, or after a long task, it runs as Django runs it.
HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0


# A Redis outage must not stop the worker. After the broker connection breaks, Celery 5.7's
# consumer collects the connection (which clears its client) and then closes it; closing a
# channel with unacknowledged messages reads that client and raises AttributeError, which
# ignore_errors() does not cover, so the worker shut down instead of reconnecting (seen in
# tests/faults/test_webhook_recovery.py about one run in three). The broken connection is thrown
# away either way: its close may fail quietly, and the consumer restarts and reconnects as usual.
_on_connection_error_after_connected = Consumer.on_connection_error_after_connected
_log = logging.getLogger(__name__)


def _tolerant_close(close):  # noqa: ANN001, ANN202 - a bound kombu method
    def close_broken_connection() -> None:
        try:
            close()
        except AttributeError:
            _log.warning("closing the broken broker connection failed; reconnecting anyway", exc_info=True)

    return close_broken_connection


def _on_connection_error_keep_running(self: Consumer, exc: BaseException) -> None:
    if self.connection is not None:
        self.connection.close = _tolerant_close(self.connection.close)
    _on_connection_error_after_connected(self, exc)


Consumer.on_connection_error_after_connected = _on_connection_error_keep_running


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(signal=None, task=None, **kwargs: object) -> None:  # noqa: ANN001 - Celery's signal
    if task is None or getattr(task.request, "is_eager", False):
        return
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        # the task's start (at its end) or the previous task's end (at a start)
        since = now - getattr(conn, "task_signal_at", -math.inf)
        recently_checked = conn.health_check_done and since < HEALTH_CHECK_AFTER_IDLE_SECONDS
        conn.close_if_unusable_or_obsolete()  # Django's close_old_connections, one connection
        if conn.connection is not None:
            conn.health_check_done = recently_checked
            conn.task_signal_at = now


app.conf.beat_schedule = {
    # Every 15 seconds (finer than crontab can say): process webhook events whose wake-up or
    # drain was lost (Redis or the broker away, a worker killed); residents wait for their answer.
    "line-webhook-events-sweep": {
        "task": "municipalities.tasks.webhook_events_sweep_task",
        "schedule": 15.0,
    },
    # "At 03:30" every day: delete talk-log rows and webhook events older than each town's retention.
    "talk-log-retention": {
        "task": "municipalities.tasks.talk_log_retention_task",
        "schedule": crontab(minute=30, hour=3),
    },
    # "At 20:00" every day (Asia/Tokyo): tell residents who asked which garbage goes out tomorrow.
    "chatbot-garbage-reminders": {
        "task": "chatbot.tasks.garbage_reminders_dispatch_task",
        "schedule": crontab(minute=0, hour=20),
    },
    # "At every minute": send the reservation reminders that are due (each once; state in the DB).
    "reservations-reminders": {
        "task": "reservations.tasks.reminders_send_due_task",
        "schedule": crontab(minute="*"),
    },
    # "At every minute": take up slot import jobs whose worker died (check again, import again, or エラー).
    "reservations-import-jobs-recover": {
        "task": "reservations.tasks.slot_import_jobs_recover_task",
        "schedule": crontab(minute="*"),
    },
    # "At 04:10" every day: recount each slot's reserved places from its bookings and log fixes.
    "reservations-counters-reconcile": {
        "task": "reservations.tasks.reservation_counters_reconcile_task",
        "schedule": crontab(minute=10, hour=4),
    },
    # "At every minute": end the waitlist offers whose hold ran out (each once) and offer the next.
    "reservations-waitlist-expire": {
        "task": "reservations.tasks.waitlist_expire_holds_task",
        "schedule": crontab(minute="*"),
    },
    # "At every minute": start the approved and scheduled broadcasts whose time has come.
    "broadcasts-start-due": {
        "task": "broadcasts.tasks.broadcasts_start_due_task",
        "schedule": crontab(minute="*"),
    },
    # Every 5 seconds (finer than crontab can say): re-offer broadcast batches whose worker died
    # (stale heartbeat) or whose task was lost, and resume stopped fan-outs, so that a broadcast
    # goes on within seconds of the workers' return. A tick not run within 5 s is dropped.
    "broadcasts-requeue-stuck-batches": {
        "task": "broadcasts.tasks.delivery_batches_requeue_stuck_task",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    # "At every minute": rich-menu re-linking jobs whose next step was lost (a worker died between
    # a step's commit and the next step's enqueue) go on from their cursor.
    "richmenus-link-jobs-resume": {
        "task": "richmenus.tasks.richmenu_link_jobs_resume_stalled_task",
        "schedule": crontab(minute="*"),
    },
    # "At minute 15" every hour: count the blocks in the 24 hours after each recent broadcast.
    "broadcasts-unfollows-count": {
        "task": "broadcasts.tasks.broadcast_unfollows_count_task",
        "schedule": crontab(minute=15),
    },
    # "At 04:40" every day: delete uploads residents staged but never submitted (older than a day).
    "applications-attachments-purge": {
        "task": "applications.tasks.attachments_purge_stale_task",
        "schedule": crontab(minute=40, hour=4),
    },
    # "At 01:05" every day: LINE's own figures (Insight) of the last three days, every town, through
    # the LINE gateway (before the daily rollup at 01:20 reads them).
    "reports-line-insight": {
        "task": "reports.tasks.line_insight_nightly_task",
        "schedule": crontab(minute=5, hour=1),
    },
    # "At 01:20" every day: the reports' daily figures of the last three days, every town (before
    # the talk-log retention at 03:30 deletes the webhook events and talk messages they count).
    "reports-daily-rollup": {
        "task": "reports.tasks.daily_metrics_nightly_task",
        "schedule": crontab(minute=20, hour=1),
    },
    # "At every minute": 施設の抽選 — close rounds whose window ended, draw those whose draw time has
    # come (once each), release the frames of unpaid wins that lapsed, finish rounds past the deadline.
    "facilities-lottery-advance": {
        "task": "facilities.tasks.lottery_rounds_advance_task",
        "schedule": crontab(minute="*"),
    },
    # "At every 5th minute": 施設予約 still unpaid after their payment deadline lapse (失効) and
    # their frames are free again (once each; the lottery's beat above releases lottery frames).
    "facilities-bookings-lapse": {
        "task": "facilities.tasks.bookings_lapse_unpaid_task",
        "schedule": crontab(minute="*/5"),
    },
    # "At 02:00 on day-of-month 1": last month's figures rolled up again and its report made final.
    "reports-monthly-prepare": {
        "task": "reports.tasks.monthly_report_prepare_task",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
}
