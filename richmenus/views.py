"""Resident pages of rich menus: the counting step of a tile that opens a feature page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from municipalities.line import destinations
from municipalities.line.liff import resident_required
from richmenus.models import RichMenuTile, TileAction
from richmenus.services import tap_count


@resident_required
def tile_tap(request: HttpRequest, tile_id: int) -> HttpResponse:
    """A feature tile opened through LIFF (``?next=/liff/richmenus/tap/<id>/``): count the tap,
    then open the page. Another town's tile is a 404."""
    tile = (
        RichMenuTile.objects.select_related("menu")
        .filter(pk=tile_id, menu__municipality_id=request.resident.municipality_id, action=TileAction.FEATURE)
        .first()
    )
    if tile is None:
        raise Http404
    path = destinations.path_for(tile.feature, tile.feature_object_id)
    if path is None:
        raise Http404
    tap_count(tile=tile)
    return HttpResponseRedirect(path)
