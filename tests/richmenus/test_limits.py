"""LINE's limits, each refused with a Japanese message before any call."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from richmenus import limits
from richmenus.errors import RichMenuError
from richmenus.layouts import Bounds


def _image(width: int, height: int, fmt: str = "PNG", noise: bool = False) -> bytes:
    if noise:  # photo-like: fine detail everywhere (a large PNG), smooth enough for JPEG
        small = Image.frombytes(
            "RGB", (width // 4, height // 4), os.urandom((width // 4) * (height // 4) * 3)
        )
        image = small.resize((width, height), Image.Resampling.BICUBIC)
    else:
        image = Image.new("RGB", (width, height), "#336699")
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "code"),
    [
        (799, 540, "image_width"),
        (2501, 1686, "image_width"),
        (1000, 249, "image_height"),
        (1200, 1000, "image_aspect"),
    ],
)
def test_size_limits(width, height, code):
    with pytest.raises(RichMenuError) as exc:
        limits.check_size(width, height)
    assert exc.value.code == code
    assert "ピクセル" in exc.value.message or "倍" in exc.value.message


def test_sizes_at_the_limits_pass():
    limits.check_size(800, 250)
    limits.check_size(2500, 1686)
    limits.check_size(2500, 843)


def test_chat_bar_text():
    limits.check_chat_bar_text("メニューを開く・閉じる１２３")  # 14 characters
    with pytest.raises(RichMenuError) as exc:
        limits.check_chat_bar_text("メニューを開く・閉じる１２３４")
    assert "14 文字" in exc.value.message
    with pytest.raises(RichMenuError):
        limits.check_chat_bar_text("  ")


def test_areas_count_and_inside():
    inside = [Bounds(0, 0, 100, 100)] * 20
    limits.check_areas(inside, width=2500, height=1686)
    with pytest.raises(RichMenuError) as exc:
        limits.check_areas(inside + [Bounds(0, 0, 1, 1)], width=2500, height=1686)
    assert exc.value.code == "areas_count"
    with pytest.raises(RichMenuError) as exc:
        limits.check_areas([Bounds(2000, 0, 501, 100)], width=2500, height=1686)
    assert exc.value.code == "area_outside"
    assert "はみ出して" in exc.value.message


def test_format_is_read_from_the_content():
    assert limits.image_format(_image(1000, 500, "JPEG")) == "JPEG"
    assert limits.image_format(_image(1000, 500, "PNG")) == "PNG"
    gif = io.BytesIO()
    Image.new("RGB", (1000, 500)).save(gif, format="GIF")
    for data in (gif.getvalue(), b"not an image", b"\x89PNG\r\n\x1a\n broken"):
        with pytest.raises(RichMenuError) as exc:
            limits.image_format(data)
        assert "JPEG か PNG" in exc.value.message


def test_a_large_upload_is_reencoded_under_one_megabyte():
    # given a photo-like PNG of 2500×1686 (several MB)
    data = _image(2500, 1686, "PNG", noise=True)
    assert len(data) > limits.MAX_IMAGE_BYTES
    # when it is fitted
    fitted, content_type = limits.fit_image_bytes(data)
    # then it is a JPEG of the same size under 1 MB
    assert len(fitted) <= limits.MAX_IMAGE_BYTES
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(fitted)) as image:
        assert image.size == (2500, 1686)


def test_a_small_upload_is_kept_as_is():
    data = _image(2500, 843, "JPEG")
    assert limits.fit_image_bytes(data) == (data, "image/jpeg")


def test_an_upload_of_the_wrong_size_is_refused():
    with pytest.raises(RichMenuError) as exc:
        limits.fit_image_bytes(_image(1000, 1000))
    assert exc.value.code == "image_aspect"
