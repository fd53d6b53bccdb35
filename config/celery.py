"""The Celery app and the one beat schedule of the project.

Every periodic task is listed here, each with its crontab and a crontab.guru reading.
Tasks take ids (JSON only) and are idempotent: see STYLE R10.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # "At 03:30" every day: delete talk-log rows older than each town's retention.
    "talk-log-retention": {
        "task": "municipalities.tasks.talk_log_retention_task",
        "schedule": crontab(minute=30, hour=3),
    },
    # "At 20:00" every day (Asia/Tokyo): tell residents who asked which garbage goes out tomorrow.
    "chatbot-garbage-reminders": {
        "task": "chatbot.tasks.garbage_reminders_dispatch_task",
        "schedule": crontab(minute=0, hour=20),
    },
}
