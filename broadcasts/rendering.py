"""Turning the staff's message rows into LINE message objects, and checking them.

Staff never write JSON: a card is built from its title, text and link fields. The checks here
run in the admin form (row by row) and again in ``broadcast_submit`` (nothing is sent that
LINE would refuse).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from municipalities.line import messages as line_messages

MAX_MESSAGES = line_messages.MAX_MESSAGES_PER_REQUEST
MAX_TEXT_UTF16 = line_messages.MAX_TEXT_UTF16
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # LINE: originalContentUrl up to 10 MB
MAX_PREVIEW_BYTES = 1024 * 1024  # LINE: previewImageUrl up to 1 MB
CARD_TEXT_MAX = 500
ALT_TEXT_MAX = 400

_IMAGE_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


def image_kind(head: bytes) -> str | None:
    """ "JPEG" or "PNG" from the first bytes of a file (its content, not its name), else None."""
    for signature, kind in _IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return kind
    return None


def check_image_upload(upload: UploadedFile) -> list[str]:
    """Problems with an uploaded image, for staff. Reads the content, not the file name."""
    errors: list[str] = []
    if upload.size and upload.size > MAX_IMAGE_BYTES:
        errors.append(
            _("画像が大きすぎます（%(size).1fMB）。10MB 以下にしてください。")
            % {"size": upload.size / 1024 / 1024}
        )
    position = upload.tell() if hasattr(upload, "tell") else 0
    upload.seek(0)
    head = upload.read(16)
    upload.seek(position)
    if image_kind(head) is None:
        errors.append(_("画像は JPEG または PNG のファイルにしてください。"))
    return errors


def check_https_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return _("LINE では https:// で始まる URL だけが使えます。")
    return None


def check_message(
    *, kind: str, text: str, has_image: bool, image_url: str, card_title: str, link_label: str, link_url: str
) -> dict[str, str]:
    """{field: message} for one message row; empty when it can be sent."""
    errors: dict[str, str] = {}
    if kind == "text":
        if not text.strip():
            errors["text"] = _("本文を入力してください。")
        elif line_messages.utf16_len(text) > MAX_TEXT_UTF16:
            errors["text"] = _(
                "本文が長すぎます（%(n)s 文字）。LINE の上限は 5,000 文字（絵文字は 2 文字）です。"
            ) % {"n": f"{line_messages.utf16_len(text):,}"}
    elif kind == "image":
        if has_image and image_url:
            errors["image_url"] = _("画像はファイルか URL のどちらか一方にしてください。")
        elif not has_image and not image_url:
            errors["image"] = _("画像ファイルを選ぶか、画像の URL を入力してください。")
        elif image_url and (problem := check_https_url(image_url)):
            errors["image_url"] = problem
    elif kind == "card":
        if not card_title.strip():
            errors["card_title"] = _("カードのタイトルを入力してください。")
        if not text.strip():
            errors["text"] = _("カードの本文を入力してください。")
        elif len(text) > CARD_TEXT_MAX:
            errors["text"] = _("カードの本文は %(n)s 文字までです。") % {"n": CARD_TEXT_MAX}
        if bool(link_label.strip()) != bool(link_url.strip()):
            errors["link_url" if link_label.strip() else "link_label"] = _(
                "ボタンの文字とリンク先は両方入力してください。"
            )
        elif link_url and (problem := check_https_url(link_url)):
            errors["link_url"] = problem
    else:
        errors["kind"] = _("種類を選んでください。")
    return errors


def absolute_media_url(name: str) -> str:
    return f"{settings.SITE_URL}{settings.MEDIA_URL}{name}"


def image_message(original_url: str, preview_url: str | None = None) -> dict[str, Any]:
    return line_messages.image(original_url, preview_url=preview_url)


def card_message(*, title: str, body: str, link_label: str = "", link_url: str = "") -> dict[str, Any]:
    """A simple card (flex bubble): bold title, wrapped text, optional green link button."""
    link = line_messages.uri_action(link_label, link_url) if link_label and link_url else None
    return line_messages.flex_card(
        title=title, body=body, alt_text=f"{title}\n{body}"[:ALT_TEXT_MAX], link=link
    )


def render_message(message: Any) -> dict[str, Any]:
    """One BroadcastMessage row as a LINE message dict."""
    if message.kind == "text":
        return line_messages.text(message.text)
    if message.kind == "image":
        if message.image:
            preview = message.preview_image.name if message.preview_image else None
            return image_message(
                absolute_media_url(message.image.name), absolute_media_url(preview) if preview else None
            )
        return image_message(message.image_url)
    return card_message(
        title=message.card_title, body=message.text, link_label=message.link_label, link_url=message.link_url
    )
