"""The staff console: Django's admin in Japanese, headed with the staff member's town.

Two-factor sign-in is enforced here, for every admin page at once: staff who need a code
(see ``two_factor.policy``) and have not given one in this session are sent to the login
(to enter it) or, when their town requires two-factor and they have no app yet, to the
enrolment page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from municipalities.two_factor import policy as two_factor
from municipalities.two_factor.forms import CmsAuthenticationForm

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

# Admin pages that stay open to a signed-in member of staff who still owes a code.
TWO_FACTOR_EXEMPT_VIEWS = {"logout", "jsi18n", "two_factor_setup"}


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
        return super().has_permission(request) and two_factor.two_factor_satisfied(request)

    def admin_view(
        self, view: Callable[..., HttpResponse], cacheable: bool = False
    ) -> Callable[..., HttpResponse]:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            match = getattr(request, "resolver_match", None)
            url_name = match.url_name if match else None
            if url_name not in TWO_FACTOR_EXEMPT_VIEWS and two_factor.must_enrol(request):
                return HttpResponseRedirect(
                    f"{reverse('admin:two_factor_setup', current_app=self.name)}?next={request.path}"
                )
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, view)

    def get_urls(self) -> list[URLPattern]:
        from municipalities.two_factor.views import setup_view

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
        from municipalities.models import AuditEntry

        # The side box shows the user's own latest changes from the audit log (Django's
        # LogEntry is not written: services audit instead).
        recent = AuditEntry.objects.filter(actor_id=request.user.pk).select_related("content_type")[:10]
        return super().index(request, {"recent_audit_entries": recent, **(extra_context or {})})
