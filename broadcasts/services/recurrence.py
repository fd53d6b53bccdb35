"""Repeating broadcasts: when a weekly or monthly broadcast goes out next, and the scheduled copy
written when one occurrence starts."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastMessage, BroadcastStatus, Recurrence
from municipalities.audit import audit_log


def add_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_occurrence(broadcast: Broadcast) -> datetime | None:
    """When a weekly or monthly broadcast goes out next (same local time), or None after the end
    date. A monthly broadcast on the 31st goes out on the last day of shorter months."""
    if not broadcast.recurrence or broadcast.scheduled_at is None or broadcast.recurrence_until is None:
        return None
    local = timezone.localtime(broadcast.scheduled_at)
    if broadcast.recurrence == Recurrence.WEEKLY:
        candidate = local + timedelta(days=7)
    else:
        origin = (
            broadcast.series_parent.scheduled_at if broadcast.series_parent_id else broadcast.scheduled_at
        )
        day = timezone.localtime(origin).day
        nxt = add_month(local.date().replace(day=1))
        nxt = nxt.replace(day=min(day, calendar.monthrange(nxt.year, nxt.month)[1]))
        candidate = local.replace(year=nxt.year, month=nxt.month, day=nxt.day)
    candidate = timezone.make_aware(candidate.replace(tzinfo=None))
    if candidate.date() > broadcast.recurrence_until:
        return None
    return candidate


def schedule_next_occurrence(broadcast: Broadcast) -> Broadcast | None:
    when = next_occurrence(broadcast)
    if when is None:
        return None
    root_id = broadcast.series_parent_id or broadcast.pk
    nxt = Broadcast.objects.create(
        department_id=broadcast.department_id,
        title=broadcast.title,
        status=BroadcastStatus.SCHEDULED,
        is_emergency=broadcast.is_emergency,
        category_id=broadcast.category_id,
        age_bands=broadcast.age_bands,
        send_mode=broadcast.send_mode,
        scheduled_at=when,
        recurrence=broadcast.recurrence,
        recurrence_until=broadcast.recurrence_until,
        series_parent_id=root_id,
        rendered_messages=broadcast.rendered_messages,
        created_by_id=broadcast.created_by_id,
        submitted_by_id=broadcast.submitted_by_id,
        submitted_at=broadcast.submitted_at,
        approved_by_id=broadcast.approved_by_id,
        approved_at=broadcast.approved_at,
    )
    nxt.areas.set(broadcast.areas.all())
    BroadcastMessage.objects.bulk_create(
        BroadcastMessage(
            broadcast=nxt,
            position=m.position,
            kind=m.kind,
            text=m.text,
            image=m.image.name,
            preview_image=m.preview_image.name,
            image_url=m.image_url,
            card_title=m.card_title,
            link_label=m.link_label,
            link_url=m.link_url,
        )
        for m in broadcast.messages.all()
    )
    audit_log(
        actor=None,
        action="broadcasts.broadcast.next_scheduled",
        obj=nxt,
        data={"scheduled_at": when, "after": broadcast.pk},
    )
    return nxt
