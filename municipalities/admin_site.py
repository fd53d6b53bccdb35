"""The staff console: Django's admin in Japanese, headed with the staff member's town.

Two-factor sign-in is enforced for every staff-only URL, the admin included, by one mechanism:
``two_factor.middleware.TwoFactorMiddleware``. The site only adds the enrolment page and counts a
session that still owes a code as not signed in (``has_permission``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from municipalities import notices
from municipalities.line import simulator_views
from municipalities.models import AuditEntry
from municipalities.two_factor import policy as two_factor
from municipalities.two_factor.forms import CmsAuthenticationForm
from municipalities.two_factor.views import setup_view

# Order of the feature groups on the index page and in the side bar: the daily work first,
# then the town's settings and staff, then the sign-in records of the operators.
APP_ORDER = [
    "broadcasts",
    "reservations",
    "applications",
    "chatbot",
    "municipalities",
    "axes",
    "otp_totp",
    "auth",
]

# Order of the core models inside 「自治体・職員・住民」: settings, people, then logs.
CORE_MODEL_ORDER = [
    "municipality",
    "department",
    "staffuser",
    "staffrole",
    "interest",
    "area",
    "resident",
    "talkmessage",
    "auditentry",
    "webhookevent",
]


class CmsAdminSite(admin.AdminSite):
    site_title = _("自治体LINE管理画面")
    site_header = _("自治体LINE管理画面")
    index_title = _("メニュー")
    enable_nav_sidebar = True
    site_url = None  # there is no public site to "view": residents use LINE
    login_form = CmsAuthenticationForm

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = getattr(request, "user", None)
        municipality = getattr(user, "municipality", None) if user and user.is_authenticated else None
        if municipality is not None:
            context["site_header"] = _("%(name)s LINE 管理画面") % {"name": municipality.name}
            context["site_title"] = context["site_header"]
            context["municipality"] = municipality
        if user is not None and user.is_authenticated:
            context["two_factor_enrolled"] = two_factor.has_confirmed_device(user)
        return context

    def has_permission(self, request: HttpRequest) -> bool:
        # Not an enforcement (TwoFactorMiddleware keeps such sessions out of every staff URL
        # first): a session that owes a code counts as not signed in, so the login page asks for
        # the code instead of sending the user on to the index, and no page shows them the menu.
        return super().has_permission(request) and two_factor.two_factor_satisfied(request)

    def get_urls(self) -> list[URLPattern]:
        def setup(request: HttpRequest) -> HttpResponse:
            return setup_view(request, self)

        return [
            path("two-factor/setup/", never_cache(csrf_protect(setup)), name="two_factor_setup"),
            *super().get_urls(),
        ]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        order = {label: i for i, label in enumerate(APP_ORDER)}
        core_order = {name: i for i, name in enumerate(CORE_MODEL_ORDER)}
        for app in app_list:
            if app["app_label"] == "municipalities":
                app["models"].sort(key=lambda m: core_order.get(m["object_name"].lower(), len(core_order)))
        return sorted(app_list, key=lambda app: order.get(app["app_label"], len(order)))

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The side box shows the user's own latest changes from the audit log (Django's
        # LogEntry is not written: services audit instead).
        recent = AuditEntry.objects.filter(actor_id=request.user.pk).select_related("content_type")[:10]
        context = {
            "recent_audit_entries": recent,
            "can_use_simulator": simulator_views.simulator_municipalities(request.user).exists(),
            "staff_notices": notices.notices_for(request.user),
            **(extra_context or {}),
        }
        return super().index(request, context)
