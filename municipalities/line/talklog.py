"""Writing the talk log (TalkMessage) for inbound and outbound messages."""

from __future__ import annotations

from typing import Any

from municipalities.line.messages import summary
from municipalities.models import Municipality, Resident, TalkMessage


def talk_log_outbound(
    *,
    municipality: Municipality,
    line_user_ids: list[str],
    messages: list[dict[str, Any]],
    sent_by: Any = None,
) -> None:
    """Log messages sent to residents. Broadcast fan-outs are logged by their delivery records
    instead (one row per recipient and message would be millions of rows)."""
    if len(line_user_ids) > 1:
        return
    residents = Resident.objects.filter(municipality=municipality, line_user_id__in=line_user_ids).only("pk")
    TalkMessage.objects.bulk_create(
        TalkMessage(
            municipality=municipality,
            resident=resident,
            direction=TalkMessage.Direction.OUTBOUND,
            kind=message.get("type", ""),
            text=summary(message),
            payload=message,
            sent_by=sent_by,
        )
        for resident in residents
        for message in messages
    )


def talk_log_inbound(*, resident: Resident, kind: str, text: str, payload: dict[str, Any]) -> TalkMessage:
    return TalkMessage.objects.create(
        municipality_id=resident.municipality_id,
        resident=resident,
        direction=TalkMessage.Direction.INBOUND,
        kind=kind,
        text=text,
        payload=payload,
    )
