"""Celery entry points of the reports app (beat entries in config/celery.py)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from municipalities.models import Municipality
from reports import services

logger = logging.getLogger(__name__)


@shared_task
def daily_metrics_nightly_task() -> int:
    """Every town: roll up the last days (idempotent; a second run rewrites the same rows)."""
    done = 0
    for municipality in Municipality.objects.order_by("pk"):
        services.daily_metrics_nightly(municipality=municipality)
        done += 1
    logger.info("reports: rolled up the last days of %d towns", done)
    return done


@shared_task
def monthly_report_prepare_task() -> int:
    """On the 1st: make last month's report of every town final."""
    last_month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    done = 0
    for municipality in Municipality.objects.order_by("pk"):
        services.monthly_report_prepare(municipality=municipality, month=last_month)
        done += 1
    logger.info("reports: prepared the report of %s for %d towns", last_month.strftime("%Y-%m"), done)
    return done
