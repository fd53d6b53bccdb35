"""Rich-menu services, by topic: menus (check, body, image, publish), per-segment links,
disaster mode, shelters, taps."""

from richmenus.services.disaster import (
    disaster_menu_prepare,
    disaster_mode_applied,
    disaster_mode_apply,
    disaster_mode_failed,
    disaster_mode_is_on,
    disaster_mode_switch,
)
from richmenus.services.links import (
    resident_rich_menu_sync,
    richmenu_link_job_failed,
    richmenu_link_job_resume,
    richmenu_link_job_start,
    richmenu_link_job_step,
    richmenu_link_jobs_resume_stalled,
    richmenu_links_refresh,
    richmenu_links_refresh_start,
)
from richmenus.services.menus import (
    richmenu_body,
    richmenu_check,
    richmenu_image,
    richmenu_line_sync,
    richmenu_publish,
    richmenu_published_record,
)
from richmenus.services.shelters import address_points_import, shelter_status_set, shelters_import
from richmenus.services.taps import tap_count

__all__ = [
    "address_points_import",
    "disaster_menu_prepare",
    "disaster_mode_applied",
    "disaster_mode_apply",
    "disaster_mode_failed",
    "disaster_mode_is_on",
    "disaster_mode_switch",
    "resident_rich_menu_sync",
    "richmenu_body",
    "richmenu_check",
    "richmenu_image",
    "richmenu_link_job_failed",
    "richmenu_link_job_resume",
    "richmenu_link_job_start",
    "richmenu_link_job_step",
    "richmenu_link_jobs_resume_stalled",
    "richmenu_line_sync",
    "richmenu_publish",
    "richmenu_links_refresh",
    "richmenu_links_refresh_start",
    "richmenu_published_record",
    "shelter_status_set",
    "shelters_import",
    "tap_count",
]
