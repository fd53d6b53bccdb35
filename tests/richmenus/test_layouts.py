"""Layout geometry: every template and grid covers the image exactly, without overlap."""

from __future__ import annotations

import itertools

import pytest

from richmenus import layouts
from richmenus.models import RichMenuLayout


def _check_tiling(areas: list[layouts.Bounds], width: int, height: int) -> None:
    for area in areas:
        assert area.x >= 0 and area.y >= 0
        assert area.x + area.width <= width and area.y + area.height <= height
        assert area.width > 0 and area.height > 0
    for a, b in itertools.combinations(areas, 2):
        assert not a.overlaps(b), (a, b)
    assert sum(a.width * a.height for a in areas) == width * height  # no gap either


@pytest.mark.parametrize("code", list(layouts.TEMPLATES))
def test_each_template_tiles_its_image(code):
    size, _label, rows = layouts.TEMPLATES[code]
    areas = layouts.template_areas(code)
    assert len(areas) == sum(len(r) for r in rows)
    _check_tiling(areas, *size)


@pytest.mark.parametrize(("columns", "rows"), [(1, 1), (3, 2), (5, 4), (4, 3)])
@pytest.mark.parametrize("compact", [False, True])
def test_grid_tiles_its_image(columns, rows, compact):
    width, height = layouts.COMPACT if compact else layouts.LARGE
    areas = layouts.layout_areas(layouts.GRID, compact=compact, columns=columns, rows=rows)
    assert len(areas) == columns * rows <= layouts.MAX_AREAS
    _check_tiling(areas, width, height)


def test_six_tile_template_matches_line():
    # given LINE's large 6-tile template: 2500×1686 in 3 columns and 2 rows
    areas = layouts.template_areas("large6")
    # then the columns are 833/833/834 wide and the rows 843 high
    assert [a.width for a in areas[:3]] == [833, 833, 834]
    assert {a.height for a in areas} == {843}
    assert areas[5] == layouts.Bounds(1666, 843, 834, 843)


def test_compact_one_to_two():
    first, second = layouts.template_areas("compact2_wide")
    assert (first.width, second.width) == (833, 1667)
    assert first.height == second.height == 843


def test_every_model_layout_has_geometry():
    for code in RichMenuLayout.values:
        assert layouts.layout_areas(code)
