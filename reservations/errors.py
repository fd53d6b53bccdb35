"""Errors of the reservations app's services; the message is Japanese and safe to show."""

from __future__ import annotations

from municipalities.errors import ServiceError


class ReservationError(ServiceError):
    """A booking could not be made or changed; ``code`` tells the edge which alternatives to offer."""
