"""Two-factor sign-in for every staff-only URL, in one place.

Staff-only URLs are the admin (``/admin/…``) and the LINE simulator (``/simulator/…``). A
signed-in member of staff whose session owes a code (``policy.two_factor_satisfied``) is sent
to the page where they give it: the enrolment page when their town requires two-factor and
they have no app yet (``policy.must_enrol``), otherwise the login page, which asks for the code.
JSON endpoints answer 403 with a message instead of a redirect.

Resident pages (``/liff/…``, ``/r/…``), ``/healthz`` and the webhook are not staff-only and are
left alone (``config/wsgi.py`` serves the webhook without any middleware at all).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from municipalities.two_factor import policy

# The pages that stay open to staff who still owe a code: where they give it, and the way out.
EXEMPT_VIEW_NAMES = frozenset({"admin:login", "admin:logout", "admin:two_factor_setup", "admin:jsi18n"})


@cache
def staff_url_prefixes() -> tuple[str, ...]:
    """Path prefixes of the staff-only URLs (read from the URLconf once)."""
    return (reverse("admin:index"), reverse("line:simulator"))


@cache
def json_url_prefixes() -> tuple[str, ...]:
    """Staff-only URLs called by scripts, which get JSON rather than a redirect."""
    return (reverse("line:simulator") + "api/", reverse("admin:autocomplete"))


def is_staff_only(request: HttpRequest) -> bool:
    return request.path_info.startswith(staff_url_prefixes())


def wants_json(request: HttpRequest) -> bool:
    return request.path_info.startswith(json_url_prefixes()) or not request.accepts("text/html")


class TwoFactorMiddleware:
    """Keep staff who owe a one-time code out of every staff-only URL (after OTPMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            return None
        if not is_staff_only(request):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in EXEMPT_VIEW_NAMES:
            return None
        if policy.two_factor_satisfied(request):
            return None
        enrol = policy.must_enrol(request)
        if wants_json(request):
            message = (
                _("二段階認証の設定が必要です。管理画面を開いて設定してください。")
                if enrol
                else _(
                    "二段階認証が必要です。管理画面からワンタイムパスワードを入力してログインし直してください。"
                )
            )
            return JsonResponse({"message": message}, status=403)
        target = reverse("admin:two_factor_setup") if enrol else reverse("admin:login")
        query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()}, safe="/")
        return HttpResponseRedirect(f"{target}?{query}")
