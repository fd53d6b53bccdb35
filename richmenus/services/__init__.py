"""Rich-menu services, by topic: taps."""

from richmenus.services.taps import tap_count

__all__ = ["tap_count"]
