"""django-import-export, the project's way (STYLE R11): the base resource, the formats, the
temporary storage of an upload between preview and confirmation, and the admin mixins.

Every import-export admin of the project uses ``ProjectExportMixin`` or
``ProjectImportExportMixin`` (nothing else), so that:

- exports go through the one formula-safe path (``municipalities.files``);
- the file kept between the preview and the confirmation is bound to the session that uploaded
  it: its name is random, recorded in the session at upload, and the confirm step refuses a name
  this session was not given (the hidden ``import_file_name`` field is the user's to edit);
- import errors are shown to staff in Japanese, by row, without Python tracebacks.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any
from uuid import uuid4

import tablib
from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from import_export import resources
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.formats import base_formats
from import_export.tmp_storages import BaseStorage

from municipalities.files import export_bytes
from municipalities.models import Department, StaffUser


class DepartmentResource(resources.ModelResource):
    """A resource that works inside one department.

    The admin passes the staff user and the department from the request
    (``get_import_resource_kwargs``), never from the file. Natural keys are looked up only among
    the department's rows, found through the model's ``department_path`` (as the permission
    policy does). Without a department (exports), the admin's scoped queryset decides.
    """

    def __init__(
        self, actor: StaffUser | None = None, department: Department | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.actor = actor
        self.department = department

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        if self.department is None:
            return qs
        return qs.filter(**{self._meta.model.department_path: self.department})


# --- formats: exports through municipalities.files -------------------------------------------


class FormulaSafeCSV(base_formats.CSV):
    """CSV, UTF-8 with BOM for Excel; every cell formula-safe (``municipalities.files``).

    The admin hands text formats every value as text, so a negative number in a CSV export is
    quoted like any other text starting with ``-`` (harmless: Excel shows ``'-1``; the project's
    import-export resources have no negative numbers).
    """

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> str:
        return export_bytes(dataset, fmt="csv").decode("utf-8")


class FormulaSafeXLSX(base_formats.XLSX):
    """XLSX; every cell formula-safe (``municipalities.files``)."""

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> bytes:
        return export_bytes(dataset, fmt="xlsx")


FORMATS = [FormulaSafeCSV, FormulaSafeXLSX]


# --- the upload kept between preview and confirmation ----------------------------------------

_NAME = re.compile(r"[0-9a-f]{32}")


class _RandomNameStorage(BaseStorage):
    """Names are 128 random bits, made here; a name of any other shape is refused outright, so
    a name from a form can never be a path (``/etc/passwd``) or another storage's key."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.name is not None and not _NAME.fullmatch(str(self.name)):
            raise ValueError("not an import file name issued by this storage")

    def _new_name(self) -> str:
        if not self.name:
            self.name = uuid4().hex
        return self.name


class CacheImportStorage(_RandomNameStorage):
    """The upload in the cache (Redis in production: every web process sees it), for 1 hour."""

    PREFIX = "import-export-upload:"
    TTL_SECONDS = 3600

    def save(self, data: bytes) -> None:
        cache.set(self.PREFIX + self._new_name(), data, self.TTL_SECONDS)

    def read(self) -> Any:
        return cache.get(self.PREFIX + self.name)  # bytes, as import-export's CacheStorage

    def remove(self) -> None:
        cache.delete(self.PREFIX + self.name)


class FolderImportStorage(_RandomNameStorage):
    """The upload in a private folder under the temp directory (the demo without Redis)."""

    @staticmethod
    def folder() -> str:
        path = os.path.join(tempfile.gettempdir(), "cms-import-uploads")
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def path(self) -> str:
        return os.path.join(self.folder(), self.name)

    def save(self, data: bytes) -> None:
        self._new_name()
        with open(self.path(), "wb") as fh:
            fh.write(data)

    def read(self) -> Any:
        if self.read_mode == "r":
            with open(self.path(), encoding=self.encoding or "utf-8-sig") as fh:
                return fh.read()
        with open(self.path(), "rb") as fh:
            return fh.read()

    def remove(self) -> None:
        os.remove(self.path())


# --- admin mixins ----------------------------------------------------------------------------

SESSION_KEY = "import_export_uploads"
SESSION_KEEP = 20


class ProjectExportMixin(ExportMixin):
    """Export in the project's formats (formula-safe CSV and XLSX)."""

    formats = FORMATS  # shadows import-export's settings-driven property


class ProjectImportExportMixin(ImportExportMixin):
    """Import and export the project's way (see the module docstring)."""

    formats = FORMATS
    import_error_display = ("message",)
    import_template_name = "admin/import_export/import_project.html"

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is None:  # the confirm step itself: nothing is issued here
            return initial
        issued = [n for n in request.session.get(SESSION_KEY, []) if n != initial["import_file_name"]]
        request.session[SESSION_KEY] = [*issued, initial["import_file_name"]][-SESSION_KEEP:]
        return initial

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        name = request.POST.get("import_file_name", "")
        issued = request.session.get(SESSION_KEY, [])
        if name not in issued:
            messages.error(
                request,
                "取り込むファイルが見つかりません。もう一度ファイルを選んで確認からやり直してください。",
            )
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))
        response = super().process_import(request, **kwargs)
        if response.status_code == 302:  # imported: the file is gone, the name is spent
            request.session[SESSION_KEY] = [n for n in issued if n != name]
        return response
