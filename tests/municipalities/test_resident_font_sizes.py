"""Text for elderly eyes: nothing on resident pages (LIFF styles and templates) under 16 px."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESIDENT_CSS = [
    "static/cms/liff/base.css",
    "static/cms/applications/applications.css",
    "static/cms/broadcasts/settings.css",
    "static/cms/reservations/liff.css",
]
SIZE = re.compile(r"font-size\s*:\s*([0-9]*\.?[0-9]+)(rem|em|px)")


def _too_small(text: str) -> list[str]:
    small = []
    for value, unit in SIZE.findall(text):
        px = float(value) * (16 if unit in {"rem", "em"} else 1)
        if px < 16:
            small.append(f"{value}{unit}")
    return small


def test_no_resident_style_is_under_16px():
    found = {path: _too_small((ROOT / path).read_text(encoding="utf-8")) for path in RESIDENT_CSS}
    templates = {
        str(p.relative_to(ROOT)): _too_small(p.read_text(encoding="utf-8"))
        for p in (ROOT / "templates" / "liff").rglob("*.html")
    }
    assert {k: v for k, v in {**found, **templates}.items() if v} == {}


def test_the_switch_says_its_state_in_words():
    css = (ROOT / "static/cms/broadcasts/settings.css").read_text(encoding="utf-8")
    rule = re.search(r"\.toggle \.state \{([^}]*)\}", css)
    assert rule and "clip" not in rule[1] and "1px" not in rule[1]
