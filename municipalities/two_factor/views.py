"""The enrolment page: scan a QR code with an authenticator app, confirm one code."""

from __future__ import annotations

import base64
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities.errors import ServiceError
from municipalities.two_factor import policy
from municipalities.two_factor.forms import TwoFactorConfirmForm
from municipalities.two_factor.services import two_factor_device_confirm, two_factor_device_start


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code in an SVG data URI (no script, no external request: CSP-safe)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def grouped_secret(device: TOTPDevice) -> str:
    """The key in base32 in groups of four, for typing it into the app by hand."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return reverse("admin:index")


def setup_view(request: HttpRequest, admin_site: Any) -> HttpResponse:
    """Enrol an authenticator app for the signed-in staff member.

    Reached on purpose (the link in the header) or forcibly right after the password when the
    municipality requires two-factor; in that case nothing else in the admin opens until a
    code is confirmed.
    """
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        login_url = resolve_url("admin:login")
        return HttpResponseRedirect(f"{login_url}?{REDIRECT_FIELD_NAME}={request.path}")
    context = {
        **admin_site.each_context(request),
        "title": _("二段階認証の設定"),
        "required": policy.town_requires_two_factor(user),
        "next": _next_url(request),
    }
    if policy.has_confirmed_device(user):
        context["already_enrolled"] = True
        return TemplateResponse(request, "admin/two_factor/setup.html", context)

    form = TwoFactorConfirmForm(request.POST or None)
    form.fields["token"].help_text = form.fields["token"].help_text % {"issuer": settings.OTP_TOTP_ISSUER}
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor_device_confirm(user=user, token=form.cleaned_data["token"])
        except ServiceError as exc:
            form.add_error("token", exc.message)
        else:
            otp_login(request, device)
            messages.success(
                request, _("二段階認証を設定しました。次回からログイン時に認証アプリの数字も入力します。")
            )
            return HttpResponseRedirect(context["next"])
    device = two_factor_device_start(user=user)
    context.update(
        {
            "form": form,
            "qr_code": qr_data_uri(device.config_url),
            "secret": grouped_secret(device),
            "issuer": settings.OTP_TOTP_ISSUER,
        }
    )
    return TemplateResponse(request, "admin/two_factor/setup.html", context)
