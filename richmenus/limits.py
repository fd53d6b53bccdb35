"""LINE's limits on a rich menu, checked before anything is sent to LINE.

Each check raises ``RichMenuError`` with a Japanese sentence staff can act on (Messaging API
reference, "Rich menu object" and "Upload rich menu image"): the image is a JPEG or PNG (read
from its bytes, not its name), 800–2500 px wide, at least 250 px high, at least 1.45 times as
wide as high and at most 1 MB; at most 20 tappable areas, each inside the image; the chat bar
text at most 14 characters. ``fit_image_bytes`` re-encodes an upload that is too large.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from richmenus.errors import RichMenuError
from richmenus.layouts import MAX_AREAS, Bounds

MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT = 800, 2500, 250
MIN_ASPECT = 1.45
MAX_IMAGE_BYTES = 1024 * 1024
CHAT_BAR_MAX = 14
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


def check_size(width: int, height: int) -> None:
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise RichMenuError(
            _("画像の幅は %(min)d〜%(max)d ピクセルにしてください（今は %(w)d ピクセル）。")
            % {"min": MIN_WIDTH, "max": MAX_WIDTH, "w": width},
            code="image_width",
        )
    if height < MIN_HEIGHT:
        raise RichMenuError(
            _("画像の高さは %(min)d ピクセル以上にしてください（今は %(h)d ピクセル）。")
            % {"min": MIN_HEIGHT, "h": height},
            code="image_height",
        )
    if width / height < MIN_ASPECT:
        raise RichMenuError(
            _("画像の横幅は高さの 1.45 倍以上にしてください（今は %(r).2f 倍）。") % {"r": width / height},
            code="image_aspect",
        )


def check_chat_bar_text(text: str) -> None:
    if not text.strip():
        raise RichMenuError(_("メニューバーの文字を入力してください。"), code="chat_bar_empty")
    if len(text) > CHAT_BAR_MAX:
        raise RichMenuError(
            _("メニューバーの文字は %(max)d 文字以内にしてください（今は %(n)d 文字）。")
            % {"max": CHAT_BAR_MAX, "n": len(text)},
            code="chat_bar_length",
        )


def check_areas(areas: Sequence[Bounds], *, width: int, height: int) -> None:
    if not areas:
        raise RichMenuError(_("タップできる領域が一つもありません。"), code="areas_empty")
    if len(areas) > MAX_AREAS:
        raise RichMenuError(
            _("タップできる領域は %(max)d 個までです（今は %(n)d 個）。")
            % {"max": MAX_AREAS, "n": len(areas)},
            code="areas_count",
        )
    for number, area in enumerate(areas, 1):
        if area.x < 0 or area.y < 0 or area.x + area.width > width or area.y + area.height > height:
            raise RichMenuError(
                _("%(n)d 番目の領域が画像（%(w)d×%(h)d）からはみ出しています。")
                % {"n": number, "w": width, "h": height},
                code="area_outside",
            )
        if area.width < 1 or area.height < 1:
            raise RichMenuError(_("%(n)d 番目の領域の大きさが 0 です。") % {"n": number}, code="area_empty")


def image_format(data: bytes) -> str:
    """ "JPEG" or "PNG", read from the bytes; RichMenuError for anything else."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
    except (UnidentifiedImageError, OSError):
        fmt = ""
    if fmt not in IMAGE_FORMATS:
        raise RichMenuError(_("画像は JPEG か PNG のファイルにしてください。"), code="image_format")
    return fmt


def fit_image_bytes(data: bytes) -> tuple[bytes, str]:
    """The image as LINE takes it: (bytes ≤ 1 MB, content type). Checks the format and the size;
    a file over 1 MB is re-encoded as JPEG at falling quality (PNG first, when it was one)."""
    fmt = image_format(data)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        check_size(*image.size)
        if len(data) <= MAX_IMAGE_BYTES:
            return data, IMAGE_FORMATS[fmt]
        rgb = image.convert("RGB")
        original = image.copy()
    if fmt == "PNG":
        out = io.BytesIO()
        original.save(out, format="PNG", optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            return out.getvalue(), "image/png"
    for quality in (90, 80, 70, 60, 50, 40, 30, 20):
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            return out.getvalue(), "image/jpeg"
    raise RichMenuError(
        _("画像を 1MB 以下に圧縮できませんでした。もっと単純な画像にしてください。"), code="image_bytes"
    )
