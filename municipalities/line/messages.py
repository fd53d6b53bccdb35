"""Builders for LINE message objects (plain dicts in LINE's JSON shape) and LINE's limits.

Limits are checked before sending (``validate_messages``), so a message LINE would refuse
never leaves the building.
"""

from __future__ import annotations

from typing import Any

from municipalities.line.errors import LineMessageInvalid

MAX_MESSAGES_PER_REQUEST = 5
MAX_TEXT_UTF16 = 5000
MAX_POSTBACK_DATA = 300
MAX_QUICK_REPLY_ITEMS = 13


def utf16_len(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def text(body: str, *, quick_reply: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "text", "text": body}
    if quick_reply:
        message["quickReply"] = {"items": quick_reply}
    return message


def postback_action(label: str, data: str, *, display_text: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "postback", "label": label[:20], "data": data}
    if display_text:
        action["displayText"] = display_text
    return action


def message_action(label: str, body: str) -> dict[str, Any]:
    return {"type": "message", "label": label[:20], "text": body}


def uri_action(label: str, uri: str) -> dict[str, Any]:
    return {"type": "uri", "label": label[:20], "uri": uri}


def quick_reply_item(action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "action", "action": action}


def validate_messages(messages: list[dict[str, Any]]) -> None:
    """Raise LineMessageInvalid when ``messages`` break a limit LINE enforces."""
    if not messages:
        raise LineMessageInvalid("no messages")
    if len(messages) > MAX_MESSAGES_PER_REQUEST:
        raise LineMessageInvalid(f"{len(messages)} messages; LINE accepts at most {MAX_MESSAGES_PER_REQUEST}")
    for message in messages:
        if message.get("type") == "text" and utf16_len(message.get("text", "")) > MAX_TEXT_UTF16:
            raise LineMessageInvalid(f"text longer than {MAX_TEXT_UTF16} UTF-16 units")
        items = (message.get("quickReply") or {}).get("items", [])
        if len(items) > MAX_QUICK_REPLY_ITEMS:
            raise LineMessageInvalid(f"{len(items)} quick replies; at most {MAX_QUICK_REPLY_ITEMS}")
        for item in items:
            data = item.get("action", {}).get("data")
            if data is not None and len(data) > MAX_POSTBACK_DATA:
                raise LineMessageInvalid(f"postback data longer than {MAX_POSTBACK_DATA}")
        if message.get("type") in {"template", "flex", "imagemap"} and not message.get("altText"):
            raise LineMessageInvalid("altText is required")


def summary(message: dict[str, Any]) -> str:
    """A one-line text of a message for the talk log."""
    kind = message.get("type")
    if kind == "text":
        return message.get("text", "")
    if kind in {"template", "flex", "imagemap"}:
        return message.get("altText", "")
    return f"[{kind}]"
