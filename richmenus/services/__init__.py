"""Rich-menu services, by topic: menus (check, body, image, publish), disaster mode, taps."""

from richmenus.services.disaster import (
    disaster_mode_applied,
    disaster_mode_apply,
    disaster_mode_failed,
    disaster_mode_is_on,
    disaster_mode_switch,
)
from richmenus.services.menus import (
    richmenu_body,
    richmenu_check,
    richmenu_image,
    richmenu_line_sync,
    richmenu_publish,
    richmenu_published_record,
)
from richmenus.services.taps import tap_count

__all__ = [
    "disaster_mode_applied",
    "disaster_mode_apply",
    "disaster_mode_failed",
    "disaster_mode_is_on",
    "disaster_mode_switch",
    "richmenu_body",
    "richmenu_check",
    "richmenu_image",
    "richmenu_line_sync",
    "richmenu_publish",
    "richmenu_published_record",
    "tap_count",
]
