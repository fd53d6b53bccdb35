"""Rich menus (リッチメニュー), 災害モード and shelters (避難所).

One module per topic; every model is re-exported here (``from richmenus.models import RichMenu``)."""

from richmenus.models.disaster import AddressPoint, DisasterMode, DisasterType, Shelter, ShelterStatus
from richmenus.models.links import LinkJobStatus, RichMenuLinkJob
from richmenus.models.menus import (
    EDIT_ACTIONS,
    ResidentRichMenu,
    RichMenu,
    RichMenuKind,
    RichMenuLayout,
    RichMenuStatus,
    RichMenuTap,
    RichMenuTile,
    TileAction,
    TileIcon,
    colour,
)

__all__ = [
    "AddressPoint",
    "DisasterMode",
    "DisasterType",
    "EDIT_ACTIONS",
    "LinkJobStatus",
    "ResidentRichMenu",
    "RichMenu",
    "RichMenuKind",
    "RichMenuLayout",
    "RichMenuLinkJob",
    "RichMenuStatus",
    "RichMenuTap",
    "RichMenuTile",
    "Shelter",
    "ShelterStatus",
    "TileAction",
    "TileIcon",
    "colour",
]
