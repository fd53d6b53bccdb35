"""Failures of the broadcast use cases, shown to staff (admin) or residents (LINE, LIFF)."""

from __future__ import annotations

from municipalities.errors import ServiceError


class BroadcastError(ServiceError):
    pass
