"""The drawn image: LINE's size, under 1 MB, the labels really drawn in a Japanese font."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

from richmenus import image, layouts


def _render(labels: list[str], icon: str = "") -> Image.Image:
    areas = layouts.template_areas("large6")
    data, content_type = image.render(
        size=layouts.LARGE,
        tiles=[
            image.TileDrawing(bounds=a, label=label, icon=icon)
            for a, label in zip(areas, labels, strict=False)
        ],
    )
    assert content_type in ("image/png", "image/jpeg")
    assert len(data) <= 1024 * 1024
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_size_and_bytes():
    drawn = _render(["予約", "申請", "ごみ", "受信設定", "お知らせ", "防災"], icon="reserve")
    assert drawn.size == (2500, 1686)


def test_text_is_drawn_in_each_tile():
    # given the same tiles with and without labels
    with_labels = _render(["予約", "申請", "ごみ", "受信設定", "お知らせ", "防災"])
    blank = _render([""] * 6)
    # then every tile differs (its label's pixels), and the label's glyphs are not tofu boxes:
    # two different kanji labels draw different pixels
    for area in layouts.template_areas("large6"):
        box = (area.x, area.y, area.x + area.width, area.y + area.height)
        assert ImageChops.difference(with_labels.crop(box), blank.crop(box)).getbbox() is not None
    a = _render(["予約"] * 6).crop((0, 0, 833, 843))
    b = _render(["申請"] * 6).crop((0, 0, 833, 843))
    assert ImageChops.difference(a, b).getbbox() is not None


def test_font_has_japanese_glyphs():
    font = image.font(64)
    # A font without the glyph draws .notdef: the same box for every missing character.
    assert (
        font.getmask("予").getbbox() != font.getmask("申").getbbox()
        or font.getmask("予").tobytes() != font.getmask("申").tobytes()
    )


def test_every_icon_draws():
    for icon in image.ICONS:
        drawn = _render(["x"] * 6, icon=icon)
        plain = _render(["x"] * 6)
        assert ImageChops.difference(drawn, plain).getbbox() is not None, icon
