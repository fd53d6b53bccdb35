"""The nightly garbage reminder: claimed once per resident and day, pushed once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.collection import format_day
from chatbot.matching import get_index
from chatbot.models import ChatState, GarbageReminder
from municipalities.line import messages as line_messages
from municipalities.line.client import get_line_client, retry_key_for

# --- Nightly reminder -------------------------------------------------------------------------


@transaction.atomic(durable=True)
def garbage_reminders_claim(*, collection_on: dt.date, municipality_id: int | None = None) -> list[int]:
    """Claim one reminder row per resident who wants it and has a collection on ``collection_on``.

    The unique (resident, day) row is the claim: running this twice claims nothing new. Returns
    the ids of rows not yet sent (new ones and ones a crashed run left), for the send tasks,
    which the caller enqueues on commit.
    """
    states = (
        ChatState.objects.filter(
            garbage_reminder=True, resident__is_following=True, resident__area__isnull=False
        )
        .select_related("resident")
        .order_by("municipality_id", "resident_id")
    )
    if municipality_id is not None:
        states = states.filter(municipality_id=municipality_id)
    rows: list[GarbageReminder] = []
    indexes: dict[int, Any] = {}
    for state in states:
        resident = state.resident
        index = indexes.get(resident.municipality_id) or indexes.setdefault(
            resident.municipality_id, get_index(resident.municipality_id)
        )
        calendar = index.calendars.get(resident.area_id)
        if calendar is None:
            continue
        labels = [
            index.categories[c].label for c in calendar.categories_on(collection_on) if c in index.categories
        ]
        if labels:
            rows.append(
                GarbageReminder(
                    municipality_id=resident.municipality_id,
                    resident=resident,
                    collection_on=collection_on,
                    categories=labels,
                )
            )
    GarbageReminder.objects.bulk_create(rows, ignore_conflicts=True)
    pending = GarbageReminder.objects.filter(collection_on=collection_on, sent_at__isnull=True)
    if municipality_id is not None:
        pending = pending.filter(municipality_id=municipality_id)
    return list(pending.values_list("pk", flat=True))


def garbage_reminder_message(reminder: GarbageReminder) -> dict[str, Any]:
    body = _(
        "明日 %(day)s は\n%(items)s\nの収集日です。朝 8 時までに出しましょう。\n（通知をやめるときは「ごみ通知オフ」と送ってください）"
    ) % {
        "day": format_day(reminder.collection_on),
        "items": "\n".join(f"・{label}" for label in reminder.categories),
    }
    return line_messages.text(body)


def garbage_reminder_send(*, reminder_id: int) -> GarbageReminder:
    """Push one claimed reminder (task body; outside any transaction).

    Skips rows already sent and residents who turned the reminder off or blocked the account
    since the claim. The retry key is per resident and day, so a retry after a crash between
    the push and ``sent_at`` is accepted by LINE once.
    """
    reminder = GarbageReminder.objects.select_related("resident", "municipality").get(pk=reminder_id)
    if reminder.sent_at is not None:
        return reminder
    resident = reminder.resident
    wants = ChatState.objects.filter(resident=resident, garbage_reminder=True).exists()
    if resident.is_following and wants:
        get_line_client(reminder.municipality).push(
            resident.line_user_id,
            [garbage_reminder_message(reminder)],
            retry_key=retry_key_for(
                "chatbot-garbage-reminder", resident.pk, reminder.collection_on.isoformat()
            ),
        )
    GarbageReminder.objects.filter(pk=reminder.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    reminder.refresh_from_db()
    return reminder
