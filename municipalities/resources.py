"""The base of every django-import-export resource of the project (STYLE R11)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from import_export import resources

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
