"""Errors that services raise and edges show (admin message, LINE reply, resident page).

Every service fails one way: with its app's subclass of ``ServiceError``. A refusal by the
permission policy goes through ``permissions.require(..., error=AppError)`` and an invalid model
through ``full_clean_or(obj, error=AppError)``, so neither ``PermissionDenied`` nor
``ValidationError`` escapes a service to the edges.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models


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


def _field_label(model: type[models.Model] | None, name: str) -> str:
    if model is None:
        return name
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def validation_message(exc: ValidationError, model: type[models.Model] | None = None) -> str:
    """A ValidationError as one line for staff: "課コード: この値は既に使われています。"
    (fields by their verbose name when ``model`` is given; errors of the whole object unlabelled)."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    parts = []
    for field, messages in exc.message_dict.items():
        text = " ".join(messages)
        parts.append(text if field == NON_FIELD_ERRORS else f"{_field_label(model, field)}: {text}")
    return " ".join(parts)


def full_clean_or(obj: models.Model, *, error: type[ServiceError], **kwargs: Any) -> None:
    """``obj.full_clean(**kwargs)``, an invalid value raised as the app's ``error`` (code "invalid")
    with every message joined in one line."""
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise error(validation_message(exc, type(obj)), code="invalid") from None
