"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, printable.

Every chart is decorative next to the table that holds its numbers (the template puts the table
beside it), so the SVG carries ``role="img"`` and a short ``aria-label`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#06c755", "#d9480f", "#1c7ed6", "#7048e8", "#e8590c", "#2b8a3e")
WIDTH = 640


def bar_chart(rows: Sequence[tuple[str, int]], *, title: str, unit: str = "") -> SafeString:
    """Horizontal bars, one per row, the largest first as given; labels cut at 14 characters."""
    rows = list(rows)[:20]
    if not rows:
        return mark_safe("")
    bar_h, gap, left, right = 18, 6, 170, 70
    height = len(rows) * (bar_h + gap) + gap
    top = max((value for _label, value in rows), default=0) or 1
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1, round((WIDTH - left - right) * value / top)) if value else 0
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="12">{escape(short)}</text>'
            f'<rect x="{left}" y="{y}" width="{w}" height="{bar_h}" fill="{COLOURS[0]}"></rect>'
            f'<text x="{left + w + 4}" y="{y + 13}" font-size="12">{value:,}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape() above


def line_chart(series: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, title: str) -> SafeString:
    """One line per series over the same x labels (days or months), with a legend and the
    first, middle and last x labels."""
    series = [(label, list(points)) for label, points in series if points]
    if not series:
        return mark_safe("")
    left, right, top_pad, bottom = 48, 12, 24, 28
    height = 220
    xs = [x for x, _v in series[0][1]]
    values = [v for _label, points in series for _x, v in points]
    high = max(max(values), 0) or 1
    low = min(min(values), 0)
    span = high - low or 1
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom

    def px(i: int) -> float:
        return left + (plot_w * i / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(v: int) -> float:
        return top_pad + plot_h * (high - v) / span

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}">',
        f'<line x1="{left}" y1="{py(0):.1f}" x2="{WIDTH - right}" y2="{py(0):.1f}" stroke="#999"></line>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" font-size="11">{high:,}</text>',
        f'<text x="{left - 4}" y="{py(low):.1f}" text-anchor="end" font-size="11">{low:,}</text>',
    ]
    for i in sorted({0, len(xs) // 2, len(xs) - 1}):
        # the first label starts at its point and the last ends at it, so neither leaves the chart
        anchor = "start" if i == 0 else "end" if i == len(xs) - 1 else "middle"
        parts.append(
            f'<text x="{px(i):.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11">{escape(xs[i])}</text>'
        )
    for n, (label, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        coords = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, (_x, v) in enumerate(points))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"></polyline>'
        )
        parts.append(
            f'<rect x="{left + n * 150}" y="4" width="10" height="10" fill="{colour}"></rect>'
            f'<text x="{left + n * 150 + 14}" y="13" font-size="11">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape() above
