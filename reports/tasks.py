"""Celery entry points of the reports app (beat entries in config/celery.py)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from municipalities.line.errors import LineError
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


@shared_task
def line_insight_nightly_task() -> int:
    """Every town with a LINE channel: fetch LINE's own figures of the last days (idempotent; a
    day LINE has fully counted is not asked again). A town whose LINE call fails is logged and
    tried again the next night; the other towns go on."""
    done = 0
    for municipality in Municipality.objects.order_by("pk"):
        if not settings.LINE_USES_SIMULATOR and not municipality.channel_access_token:
            continue  # no channel yet: nothing to ask LINE
        try:
            services.line_insight_nightly(municipality=municipality)
        except LineError as exc:
            logger.warning("reports: LINE insight of %s failed: %s", municipality.slug, exc)
            continue
        done += 1
    logger.info("reports: fetched LINE insight of %d towns", done)
    return done
