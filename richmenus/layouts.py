"""Rich-menu layouts: LINE's standard templates and a free grid, as tappable areas.

A layout turns a menu size into the rectangles of its tiles, in tile order (row by row, left to
right). The rectangles tile the whole image without overlap: the last column and row absorb the
pixels a division leaves over, so 2500 px split three ways is 833 + 833 + 834.

Keep the codes in sync with ``RichMenu.Layout`` (models.py); staff pick them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

LARGE = (2500, 1686)
COMPACT = (2500, 843)

MAX_AREAS = 20
GRID_MAX_COLUMNS = 5
GRID_MAX_ROWS = 4


@dataclass(frozen=True)
class Bounds:
    x: int
    y: int
    width: int
    height: int

    def as_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    def overlaps(self, other: Bounds) -> bool:
        return not (
            self.x + self.width <= other.x
            or other.x + other.width <= self.x
            or self.y + self.height <= other.y
            or other.y + other.height <= self.y
        )


def _cuts(total: int, parts: list[int]) -> list[tuple[int, int]]:
    """(start, length) of consecutive parts of ``total`` in the proportions ``parts``."""
    whole = sum(parts)
    edges = [0]
    running = 0
    for share in parts:
        running += share
        edges.append(total * running // whole)
    return [(edges[i], edges[i + 1] - edges[i]) for i in range(len(parts))]


def _rows(
    width: int, height: int, rows: list[list[int]], row_shares: list[int] | None = None
) -> list[Bounds]:
    """Rows of tiles: ``rows[i]`` gives the width shares of row i's tiles."""
    out = []
    for (y, h), shares in zip(_cuts(height, row_shares or [1] * len(rows)), rows, strict=True):
        out.extend(Bounds(x, y, w, h) for x, w in _cuts(width, shares))
    return out


# code → (size, label, row layout). A size of LARGE is 2500×1686, COMPACT 2500×843.
TEMPLATES: dict[str, tuple[tuple[int, int], str, list[list[int]]]] = {
    "large6": (LARGE, "大 6分割（3×2）", [[1, 1, 1], [1, 1, 1]]),
    "large4": (LARGE, "大 4分割（2×2）", [[1, 1], [1, 1]]),
    "large3_top": (LARGE, "大 3分割（上1・下2）", [[1], [1, 1]]),
    "large3_bottom": (LARGE, "大 3分割（上2・下1）", [[1, 1], [1]]),
    "large2_columns": (LARGE, "大 2分割（左右）", [[1, 1]]),
    "large2_rows": (LARGE, "大 2分割（上下）", [[1], [1]]),
    "large1": (LARGE, "大 1枚", [[1]]),
    "compact3": (COMPACT, "小 3分割", [[1, 1, 1]]),
    "compact2_wide": (COMPACT, "小 2分割（1:2）", [[1, 2]]),
    "compact2": (COMPACT, "小 2分割", [[1, 1]]),
    "compact1": (COMPACT, "小 1枚", [[1]]),
}
GRID = "grid"


def template_areas(code: str) -> list[Bounds]:
    size, _label, rows = TEMPLATES[code]
    return _rows(size[0], size[1], rows)


def grid_areas(*, width: int, height: int, columns: int, rows: int) -> list[Bounds]:
    """A free grid of ``columns`` × ``rows`` equal tiles."""
    return _rows(width, height, [[1] * columns for _ in range(rows)])


def layout_size(code: str, *, compact: bool = False) -> tuple[int, int]:
    if code in TEMPLATES:
        return TEMPLATES[code][0]
    return COMPACT if compact else LARGE


def layout_areas(code: str, *, compact: bool = False, columns: int = 3, rows: int = 2) -> list[Bounds]:
    if code in TEMPLATES:
        return template_areas(code)
    width, height = layout_size(code, compact=compact)
    return grid_areas(width=width, height=height, columns=columns, rows=rows)
