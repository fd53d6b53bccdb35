"""Admin of residents (LINE friends): what LINE tells is shown, staff set the rest."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from municipalities.models import (
    Resident,
)
from municipalities.scoping import DepartmentScopedAdmin
from municipalities.services import (
    resident_update_preferences,
)


@admin.register(Resident)
class ResidentAdmin(DepartmentScopedAdmin):
    list_display = ["__str__", "area", "age_band", "is_following", "followed_at", "unfollowed_at"]
    list_select_related = ["area"]
    list_filter = ["is_following", "notices_paused", "age_band", "area"]
    search_fields = ["display_name", "line_user_id"]
    # What LINE tells about the friend is shown, never edited; staff set the rest.
    readonly_fields = [
        "municipality",
        "display_name",
        "line_user_id",
        "is_following",
        "followed_at",
        "unfollowed_at",
    ]
    fields = [*readonly_fields, "area", "age_band", "interests", "notices_paused"]
    filter_horizontal = ["interests"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # residents come from LINE (follow events)

    def save_with_service(
        self, request: HttpRequest, obj: Resident, form: Any, formsets: Any, change: bool
    ) -> Any:
        data = form.cleaned_data
        return resident_update_preferences(
            resident=obj,
            interests=data["interests"] if "interests" in data else None,
            area=data["area"] if "area" in data else False,
            age_band=data.get("age_band"),
            notices_paused=data.get("notices_paused"),
            actor=request.user,
        )
