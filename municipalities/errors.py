"""Errors that services raise and edges show (admin message, LINE reply, resident page)."""

from __future__ import annotations


class ServiceError(Exception):
    """A use case could not be carried out; ``message`` is translated and safe to show."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return str(self.message)


class MunicipalityError(ServiceError):
    pass
