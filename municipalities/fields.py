"""Model fields of the core app."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

_fernet: MultiFernet | None = None


def _cipher() -> MultiFernet:
    global _fernet
    if _fernet is None:
        _fernet = MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])
    return _fernet


class EncryptedTextField(models.TextField):
    """Text stored encrypted at rest (Fernet, keys from ``FIELD_ENCRYPTION_KEYS``).

    The database holds only the token; Python code sees the plain value. Lookups other than
    ``isnull`` make no sense on it. Rotating keys: put the new key first, keep the old ones.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        try:
            return _cipher().decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                f"{self.model.__name__}.{self.name} cannot be decrypted: "
                "FIELD_ENCRYPTION_KEYS does not hold the key it was written with."
            ) from exc

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if not value:
            return value
        return _cipher().encrypt(value.encode()).decode()


def mask_secret(value: str | None) -> str:
    """A secret as staff may see it: only the last four characters."""
    if not value:
        return ""
    return "•" * 8 + value[-4:] if len(value) > 8 else "•" * 8
