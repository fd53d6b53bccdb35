"""The rich-menu app's error: a ServiceError with a Japanese message for staff or residents."""

from municipalities.errors import ServiceError


class RichMenuError(ServiceError):
    pass
