"""The staff console: Django's admin in Japanese, headed with the staff member's town."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Order of the feature groups on the index page.
APP_ORDER = ["broadcasts", "reservations", "applications", "chatbot", "municipalities", "axes", "otp_totp", "auth"]


class CmsAdminSite(admin.AdminSite):
    site_title = _("自治体LINE管理画面")
    site_header = _("自治体LINE管理画面")
    index_title = _("メニュー")
    enable_nav_sidebar = True

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = getattr(request, "user", None)
        municipality = getattr(user, "municipality", None) if user and user.is_authenticated else None
        if municipality is not None:
            context["site_header"] = _("%(name)s LINE 管理画面") % {"name": municipality.name}
            context["site_title"] = context["site_header"]
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        order = {label: i for i, label in enumerate(APP_ORDER)}
        return sorted(app_list, key=lambda app: order.get(app["app_label"], len(order)))
