"""Errors of the applications app (messages are safe to show to staff or residents)."""

from municipalities.errors import ServiceError


class ApplicationError(ServiceError):
    pass
