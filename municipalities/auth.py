"""Authentication backend that turns staff roles into Django permissions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from municipalities import permissions


class RoleBackend(ModelBackend):
    """ModelBackend whose group permissions come from the user's StaffRole rows.

    ``user.has_perm("broadcasts.change_broadcast")`` is true when any of the user's roles
    grants it anywhere; *where* (which department) is decided per object by
    ``permissions.DepartmentPolicy``. Direct group membership is not used.
    """

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return permissions.role_permissions(user_obj)
