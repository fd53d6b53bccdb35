"""Admin of household members: read-only, since only the resident registers and corrects them."""

from __future__ import annotations

from django.contrib import admin

from municipalities.models import HouseholdMember
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin


@admin.register(HouseholdMember)
class HouseholdMemberAdmin(ReadOnlyAdminMixin, DepartmentScopedAdmin):
    list_display = [
        "name",
        "kana",
        "birth_date",
        "birth_date_wareki",
        "relationship",
        "resident",
        "is_active",
    ]
    list_select_related = ["resident"]
    list_filter = ["relationship", "is_active"]
    search_fields = ["name", "kana", "resident__display_name"]
    fields = [
        "municipality",
        "resident",
        "name",
        "kana",
        "birth_date",
        "relationship",
        "is_active",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="生年月日（和暦）")
    def birth_date_wareki(self, obj: HouseholdMember) -> str:
        return obj.birth_date_wareki
