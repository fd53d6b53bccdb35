"""Private storage for attachments: outside MEDIA_URL, no public URL at all.

Files are read only through the permission-checked download views (staff admin, the
resident's own pages). ``url()`` raises, so a template cannot leak a link by accident.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateAttachmentStorage(FileSystemStorage):
    """FileSystemStorage under ``settings.PRIVATE_MEDIA_ROOT / "applications"`` (read per call)."""

    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.PRIVATE_MEDIA_ROOT / "applications")

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("attachments have no public URL; use the download view")


private_storage = PrivateAttachmentStorage()


def get_private_storage() -> PrivateAttachmentStorage:
    return private_storage
