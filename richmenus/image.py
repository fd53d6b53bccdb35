"""Draw a rich menu's image from its tiles: colours, a Japanese label, an icon, the town logo.

The font is Noto Sans CJK JP, shipped inside the PyPI package ``noto-cjk-sans-jp-regular`` (SIL
Open Font License): a wheel with the font file and nothing else, so it installs with pip like the
rest of requirements.txt and nothing is downloaded at run time. The machines this runs on have no
Japanese system font. The icons are drawn with Pillow's shapes (no image files to ship): 予約,
申請, ごみ, お知らせ, 受信設定, 防災, 問い合わせ, ホームページ.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import noto_cjk_sans_jp_regular
from PIL import Image, ImageDraw, ImageFont

from richmenus.layouts import Bounds
from richmenus.limits import fit_image_bytes

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class TileDrawing:
    bounds: Bounds
    label: str
    icon: str = ""
    background: str = "#1E88E5"
    foreground: str = "#FFFFFF"


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(noto_cjk_sans_jp_regular.FONT_PATH), size)


def _calendar(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    d.rounded_rectangle((x0, y0 + (y1 - y0) // 8, x1, y1), radius=w * 2, outline=c, width=w)
    top = y0 + (y1 - y0) // 3
    d.line((x0, top, x1, top), fill=c, width=w)
    for fx in (0.3, 0.7):
        x = x0 + int((x1 - x0) * fx)
        d.line((x, y0, x, y0 + (y1 - y0) // 4), fill=c, width=w)
    step = (x1 - x0) // 4
    for row in range(2):
        for col in range(3):
            cx = x0 + step * (col + 1)
            cy = top + (y1 - top) * (row + 1) // 3
            d.ellipse((cx - w, cy - w, cx + w, cy + w), fill=c)


def _document(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    x0 += (x1 - x0) // 6
    x1 -= (x1 - x0) // 6
    d.rectangle((x0, y0, x1, y1), outline=c, width=w)
    for i in range(1, 4):
        y = y0 + (y1 - y0) * i // 4
        d.line((x0 + w * 3, y, x1 - w * 3, y), fill=c, width=w)


def _bin(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    lid = y0 + (y1 - y0) // 5
    d.line((x0, lid, x1, lid), fill=c, width=w)
    d.rectangle((x0 + (x1 - x0) * 2 // 5, y0, x1 - (x1 - x0) * 2 // 5, lid), outline=c, width=w)
    d.polygon(
        [
            (x0 + (x1 - x0) // 8, lid),
            (x1 - (x1 - x0) // 8, lid),
            (x1 - (x1 - x0) // 5, y1),
            (x0 + (x1 - x0) // 5, y1),
        ],
        outline=c,
        width=w,
    )


def _megaphone(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    my = (y0 + y1) // 2
    d.polygon([(x0, my - (y1 - y0) // 6), (x1, y0), (x1, y1), (x0, my + (y1 - y0) // 6)], outline=c, width=w)


def _gear(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    cx, cy, r = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 2
    d.ellipse((cx - r * 3 // 4, cy - r * 3 // 4, cx + r * 3 // 4, cy + r * 3 // 4), outline=c, width=w * 2)
    d.ellipse((cx - r // 4, cy - r // 4, cx + r // 4, cy + r // 4), outline=c, width=w)
    for dx, dy in ((0, -1), (0, 1), (-1, 0), (1, 0)):
        d.line((cx + dx * r * 3 // 4, cy + dy * r * 3 // 4, cx + dx * r, cy + dy * r), fill=c, width=w * 3)


def _warning(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    d.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], outline=c, width=w)
    cx = (x0 + x1) // 2
    d.line((cx, y0 + (y1 - y0) // 3, cx, y0 + (y1 - y0) * 2 // 3), fill=c, width=w * 2)
    d.ellipse((cx - w, y1 - (y1 - y0) // 6 - w, cx + w, y1 - (y1 - y0) // 6 + w), fill=c)


def _bubble(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    body = y0 + (y1 - y0) * 3 // 4
    d.rounded_rectangle((x0, y0, x1, body), radius=(x1 - x0) // 5, outline=c, width=w)
    d.polygon([(x0 + (x1 - x0) // 4, body), (x0 + (x1 - x0) // 5, y1), (x0 + (x1 - x0) // 2, body)], fill=c)


def _house(d: ImageDraw.ImageDraw, b: Box, c: str, w: int) -> None:
    x0, y0, x1, y1 = b
    roof = y0 + (y1 - y0) * 2 // 5
    d.polygon([((x0 + x1) // 2, y0), (x1, roof), (x0, roof)], outline=c, width=w)
    d.rectangle((x0 + (x1 - x0) // 6, roof, x1 - (x1 - x0) // 6, y1), outline=c, width=w)


ICONS: dict[str, Callable[[ImageDraw.ImageDraw, Box, str, int], None]] = {
    "reserve": _calendar,
    "apply": _document,
    "garbage": _bin,
    "news": _megaphone,
    "settings": _gear,
    "disaster": _warning,
    "contact": _bubble,
    "home": _house,
}


def _fit_label(draw: ImageDraw.ImageDraw, label: str, max_width: int, size: int) -> ImageFont.FreeTypeFont:
    while size > 24:
        f = font(size)
        if draw.textlength(label, font=f) <= max_width:
            return f
        size -= 8
    return font(24)


def render(
    *,
    size: tuple[int, int],
    tiles: Sequence[TileDrawing],
    background: str = "#FFFFFF",
    logo: bytes | None = None,
) -> tuple[bytes, str]:
    """The menu image as (bytes, content type), within LINE's limits (limits.fit_image_bytes)."""
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    gap = 6
    for tile in tiles:
        b = tile.bounds
        box = (b.x + gap, b.y + gap, b.x + b.width - gap - 1, b.y + b.height - gap - 1)
        draw.rounded_rectangle(box, radius=min(b.width, b.height) // 14, fill=tile.background)
        short = min(b.width, b.height)
        label_size = max(48, min(short // 6, 150))
        f = _fit_label(draw, tile.label, b.width - 4 * gap - 40, label_size)
        icon = ICONS.get(tile.icon)
        cx = b.x + b.width // 2
        if icon is not None:
            s = short * 2 // 5
            top = b.y + (b.height - s - label_size - short // 12) // 2
            icon(draw, (cx - s // 2, top, cx + s // 2, top + s), tile.foreground, max(4, s // 24))
            text_y = top + s + short // 12 + label_size // 2
        else:
            text_y = b.y + b.height // 2
        draw.text((cx, text_y), tile.label, font=f, fill=tile.foreground, anchor="mm")
    if logo:
        with Image.open(io.BytesIO(logo)) as mark:
            mark = mark.convert("RGBA")
            mark.thumbnail((height // 8, height // 8))
            image.paste(mark, (gap * 3, gap * 3), mark)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return fit_image_bytes(out.getvalue())
