"""Tap counts per menu, tile and day: a counter row, never who tapped."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from richmenus.models import RichMenuTap, RichMenuTile


def tap_count(*, tile: RichMenuTile) -> None:
    """Add one tap of ``tile`` today (F() increment; the first tap of the day creates the row,
    a racing first tap meets the UNIQUE and increments instead)."""
    today = timezone.localdate()
    rows = RichMenuTap.objects.filter(tile=tile, day=today)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            RichMenuTap.objects.create(menu_id=tile.menu_id, tile=tile, day=today, count=1)
    except IntegrityError:
        rows.update(count=F("count") + 1)
