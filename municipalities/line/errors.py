"""Typed failures of the LINE gateway. Callers decide: retry, record, or give up."""

from __future__ import annotations


class LineError(Exception):
    """Base class. ``status`` is LINE's HTTP status when there was one."""

    def __init__(self, message: str = "", *, status: int | None = None, details: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


class LineRateLimited(LineError):
    """429: too many requests. Retry later with back-off and jitter (LINE sends no Retry-After)."""


class LineRetryableError(LineError):
    """5xx or a timeout / connection failure: the request may not have arrived. Retry."""


class LineClientError(LineError):
    """Another 4xx: the request is wrong and retrying will not help. Record LINE's message."""


class LineReplyTokenExpired(LineClientError):
    """The reply token was used or is older than LINE allows: push instead, if that matters."""


class LineMessageInvalid(LineError):
    """A message broke one of LINE's limits before sending (checked locally)."""
