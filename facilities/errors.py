"""Errors of the facilities app's services; the message is Japanese and safe to show."""

from __future__ import annotations

from municipalities.errors import ServiceError


class FacilityError(ServiceError):
    """A facility booking, fee, closure or lottery step that cannot be done; ``code`` names why."""
