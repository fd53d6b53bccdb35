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
MAX_ALT_TEXT = 400
MAX_TEMPLATE_ACTIONS = 4
MAX_TEMPLATE_TITLE = 40
MAX_BUTTONS_TEXT = 160
MAX_BUTTONS_TEXT_WITH_TITLE = 60
MAX_CONFIRM_TEXT = 240
MAX_ACTION_LABEL = 20
MAX_FLEX_TEXT_UTF16 = 4000  # the text of a text_with_button card


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


def image(original_url: str, *, preview_url: str | None = None) -> dict[str, Any]:
    """An image message. LINE wants HTTPS URLs (JPEG/PNG; preview ≤ 1 MB)."""
    return {
        "type": "image",
        "originalContentUrl": original_url,
        "previewImageUrl": preview_url or original_url,
    }


def buttons(
    body: str,
    actions: list[dict[str, Any]],
    *,
    alt_text: str,
    title: str = "",
    image_url: str = "",
) -> dict[str, Any]:
    """A buttons template: optional image and title, a text and 1–4 actions."""
    if not alt_text:
        raise LineMessageInvalid("altText is required")
    if not 1 <= len(actions) <= MAX_TEMPLATE_ACTIONS:
        raise LineMessageInvalid(f"a buttons template takes 1 to {MAX_TEMPLATE_ACTIONS} actions")
    limit = MAX_BUTTONS_TEXT_WITH_TITLE if (title or image_url) else MAX_BUTTONS_TEXT
    template: dict[str, Any] = {"type": "buttons", "text": body[:limit], "actions": actions}
    if title:
        template["title"] = title[:MAX_TEMPLATE_TITLE]
    if image_url:
        template["thumbnailImageUrl"] = image_url
    return {"type": "template", "altText": alt_text[:MAX_ALT_TEXT], "template": template}


def confirm(body: str, yes: dict[str, Any], no: dict[str, Any], *, alt_text: str) -> dict[str, Any]:
    """A confirm template: a question and exactly two actions (はい / いいえ)."""
    if not alt_text:
        raise LineMessageInvalid("altText is required")
    template = {"type": "confirm", "text": body[:MAX_CONFIRM_TEXT], "actions": [yes, no]}
    return {"type": "template", "altText": alt_text[:MAX_ALT_TEXT], "template": template}


def flex_card(
    *,
    title: str,
    body: str = "",
    alt_text: str,
    fields: list[tuple[str, str]] | None = None,
    link: dict[str, Any] | None = None,
    actions: list[dict[str, Any]] | None = None,
    image_url: str = "",
) -> dict[str, Any]:
    """A simple flex bubble built from fields: a title, a text, label/value rows, and buttons.

    ``link`` (a uri action) becomes the primary green button; ``actions`` more buttons below.
    """
    if not alt_text:
        raise LineMessageInvalid("altText is required")
    contents: list[dict[str, Any]] = [
        {"type": "text", "text": title, "weight": "bold", "size": "lg", "wrap": True},
    ]
    if body:
        contents.append({"type": "text", "text": body, "size": "sm", "wrap": True, "color": "#555555"})
    for label, value in fields or []:
        contents.append(
            {
                "type": "box",
                "layout": "baseline",
                "spacing": "sm",
                "contents": [
                    {"type": "text", "text": label, "size": "sm", "color": "#888888", "flex": 2},
                    {"type": "text", "text": value or "-", "size": "sm", "wrap": True, "flex": 5},
                ],
            }
        )
    bubble: dict[str, Any] = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": contents},
    }
    if image_url:
        bubble["hero"] = {
            "type": "image",
            "url": image_url,
            "size": "full",
            "aspectRatio": "20:13",
            "aspectMode": "cover",
        }
    footer: list[dict[str, Any]] = []
    if link:
        footer.append({"type": "button", "style": "primary", "color": "#06c755", "action": link})
    for action in actions or []:
        footer.append({"type": "button", "style": "secondary", "action": action})
    if footer:
        bubble["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": footer}
    return {"type": "flex", "altText": alt_text[:MAX_ALT_TEXT], "contents": bubble}


def text_with_button(
    body: str, label: str, url: str, *, alt_text: str, quick_reply: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``body`` as a flex card (first line as title) with a green button opening ``url``, not a raw link."""
    # A bubble's JSON may be 30 KB, and LINE's SDK escapes every UTF-16 unit as \uXXXX (6 bytes).
    body = body.encode("utf-16-le")[: 2 * MAX_FLEX_TEXT_UTF16].decode("utf-16-le", "ignore")
    title, _, rest = body.partition("\n")
    message = flex_card(title=title, body=rest.strip("\n"), alt_text=alt_text, link=uri_action(label, url))
    if quick_reply:
        message["quickReply"] = {"items": quick_reply}
    return message


def _actions_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action object inside a message (quick replies, template buttons, flex buttons)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("action")
            if isinstance(action, dict):
                found.append(action)
            for key, value in node.items():
                if key == "actions" and isinstance(value, list):
                    found.extend(a for a in value if isinstance(a, dict))
                elif isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    return found


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
        for action in _actions_of(message):
            data = action.get("data")
            if data is not None and len(data) > MAX_POSTBACK_DATA:
                raise LineMessageInvalid(f"postback data longer than {MAX_POSTBACK_DATA}")
            if len(action.get("label") or "") > MAX_ACTION_LABEL:
                raise LineMessageInvalid(f"action label longer than {MAX_ACTION_LABEL}")
        if message.get("type") in {"template", "flex", "imagemap"}:
            if not message.get("altText"):
                raise LineMessageInvalid("altText is required")
            if len(message["altText"]) > MAX_ALT_TEXT:
                raise LineMessageInvalid(f"altText longer than {MAX_ALT_TEXT}")
        if message.get("type") == "template":
            template = message.get("template") or {}
            count = len(template.get("actions") or [])
            if template.get("type") == "buttons" and not 1 <= count <= MAX_TEMPLATE_ACTIONS:
                raise LineMessageInvalid(f"a buttons template takes 1 to {MAX_TEMPLATE_ACTIONS} actions")
            if template.get("type") == "confirm" and count != 2:
                raise LineMessageInvalid("a confirm template takes exactly 2 actions")
        if message.get("type") == "image" and not (
            message.get("originalContentUrl") and message.get("previewImageUrl")
        ):
            raise LineMessageInvalid("an image needs originalContentUrl and previewImageUrl")


def _flex_texts(component: dict[str, Any]) -> list[str]:
    """The texts of a flex component and of the components inside it, in reading order."""
    if component.get("type") == "text":
        return [component.get("text", "")]
    found: list[str] = []
    for key in ("header", "hero", "body", "footer"):
        if isinstance(component.get(key), dict):
            found += _flex_texts(component[key])
    children = component.get("contents")
    for child in children if isinstance(children, list) else []:
        found += _flex_texts(child)
    return found


def summary(message: dict[str, Any]) -> str:
    """The text of a message for the talk log: what the resident read, and its buttons as ［…］."""
    kind = message.get("type")
    if kind == "text":
        return message.get("text", "")
    shown = {key: value for key, value in message.items() if key != "quickReply"}
    buttons = "".join(f"［{a['label']}］" for a in _actions_of(shown) if a.get("label"))
    if kind == "flex":
        texts = _flex_texts(message.get("contents", {}))
        return "\n".join(filter(None, ["\n".join(texts) or message.get("altText", ""), buttons]))
    if kind == "template":
        template = message.get("template", {})
        text = "\n".join(filter(None, [template.get("title"), template.get("text")])) or message.get(
            "altText", ""
        )
        return "\n".join(filter(None, [text, buttons]))
    if kind == "imagemap":
        return message.get("altText", "")
    return f"[{kind}]"
