"""Writing the talk log (TalkMessage) for inbound and outbound messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from municipalities.line.liff import redact_resident_links
from municipalities.line.messages import summary
from municipalities.line.pgwrites import rows_insert
from municipalities.models import (
    Department,
    Municipality,
    Resident,
    ResidentLinkUse,
    TalkMessage,
    WebhookEvent,
)


def talk_log_outbound(
    *,
    municipality: Municipality,
    line_user_ids: list[str],
    messages: list[dict[str, Any]],
    sent_by: Any = None,
    department: Department | None = None,
    log_text: str = "",
    resident: Resident | None = None,
    into: list[TalkMessage] | None = None,
) -> None:
    """Log messages sent to residents. Broadcast fan-outs are logged by their delivery records
    instead (one row per recipient and message would be millions of rows).

    Staff read this log: sign-in links are stored as plain page URLs (``redact_resident_links``).
    ``department`` is set for a notice a feature sends on a department's behalf (booking,
    application); the permission policy then shows the row only to that department and to
    自治体管理者. Without it the row is part of the town-wide chat.

    ``log_text`` replaces the messages in the log when they list a resident's own records of
    several departments (「予約確認」「申請状況」): the town-wide chat shows that the list was sent,
    and no department reads another's bookings or applications in it.

    ``resident`` is the one recipient when the caller already has them (a reply to their
    event): the row is written without looking them up.

    ``into``: the rows are added to this list, unsaved, instead of written: its owner writes
    them with its own (the webhook's processing writes the resident's message, the reply's rows
    and the event's ``processed`` together, see ``inbound``).
    """
    if len(line_user_ids) > 1:
        return
    if log_text:
        logged = [("summary", log_text, {})]
    else:
        logged = [(m.get("type", ""), summary(m), m) for m in redact_resident_links(messages)]
    residents = (
        [resident]
        if resident is not None
        else Resident.objects.filter(municipality=municipality, line_user_id__in=line_user_ids).only("pk")
    )
    rows = [
        TalkMessage(
            municipality=municipality,
            resident=recipient,
            direction=TalkMessage.Direction.OUTBOUND,
            kind=kind,
            text=text,
            payload=payload,
            sent_by=sent_by,
            department=department,
        )
        for recipient in residents
        for kind, text, payload in logged
    ]
    if into is not None:
        into.extend(rows)
    else:
        rows_insert(rows)


def talk_log_inbound_row(*, resident: Resident, kind: str, text: str, payload: dict[str, Any]) -> TalkMessage:
    """An inbound row, not yet saved: its time is now (when the message is handled), whenever it
    is written (with the reply's rows, see ``talk_log_outbound(into=…)``)."""
    return TalkMessage(
        municipality_id=resident.municipality_id,
        resident=resident,
        direction=TalkMessage.Direction.INBOUND,
        kind=kind,
        text=text,
        payload=payload,
    )


def talk_log_inbound(*, resident: Resident, kind: str, text: str, payload: dict[str, Any]) -> TalkMessage:
    row = talk_log_inbound_row(resident=resident, kind=kind, text=text, payload=payload)
    row.save(force_insert=True)
    return row


PURGE_BATCH_SIZE = 5000


def talk_log_purge(*, now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete talk-log rows, and the stored webhook events (they carry what residents wrote),
    older than each municipality's retention, and spent sign-in links older than their lifetime,
    in batches.

    Batches keep each DELETE short (no long lock on a table residents write to all day) and
    make the job restartable: a run that dies half way leaves only rows the next run deletes.
    Returns how many rows were deleted.
    """
    now = now or timezone.now()
    deleted = 0
    for municipality_id, days in Municipality.objects.values_list("pk", "talk_log_retention_days"):
        cutoff = now - timedelta(days=days)
        for model in (TalkMessage, WebhookEvent):
            deleted += _purge(model, municipality_id=municipality_id, cutoff=cutoff, batch_size=batch_size)
        # A spent link older than the links' lifetime would be refused as expired anyway.
        link_cutoff = now - timedelta(seconds=settings.RESIDENT_LINK_MAX_AGE_SECONDS)
        deleted += _purge(
            ResidentLinkUse, municipality_id=municipality_id, cutoff=link_cutoff, batch_size=batch_size
        )
    return deleted


def _purge(model: type[models.Model], *, municipality_id: int, cutoff: datetime, batch_size: int) -> int:
    deleted = 0
    while True:
        ids = list(
            model.objects.filter(municipality_id=municipality_id, created_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        count, _ = model.objects.filter(pk__in=ids).delete()
        deleted += count


def _actions_of(payload: Any) -> Iterator[dict[str, Any]]:
    """Every action object inside a logged outbound message (quick replies, buttons, flex)."""
    if isinstance(payload, dict):
        if isinstance(payload.get("type"), str) and "data" in payload and "label" in payload:
            yield payload
        for value in payload.values():
            yield from _actions_of(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _actions_of(value)


def tap_labels(messages: list[TalkMessage]) -> dict[int, str]:
    """What the resident tapped, for the postbacks among ``messages`` (oldest first): the
    button's own words (its display text, else its label) as the resident saw them in the talk,
    looked up in the outbound messages before the tap. A tap whose button is no longer in the
    log reads 「（ボタンを押しました）」, never its internal data (``bc:t:3``)."""
    labels: dict[int, str] = {}
    known: dict[str, str] = {}
    for message in messages:
        if message.direction == TalkMessage.Direction.OUTBOUND:
            for action in _actions_of(message.payload):
                data = action.get("data")
                if isinstance(data, str):
                    known[data] = str(action.get("displayText") or action.get("label") or "")
        elif message.kind == "postback":
            data = message.payload.get("data") if isinstance(message.payload, dict) else None
            label = known.get(data if isinstance(data, str) else message.text, "")
            labels[message.pk] = f"「{label}」を押しました" if label else "（ボタンを押しました）"
    return labels
