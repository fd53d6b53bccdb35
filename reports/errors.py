"""Errors of the reports app (messages are safe to show to staff)."""

from municipalities.errors import ServiceError


class ReportError(ServiceError):
    pass
