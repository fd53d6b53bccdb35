"""Who must use two-factor sign-in, and whether the current session has passed it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities.models import Municipality


def has_confirmed_device(user: Any) -> bool:
    """Whether the user has an authenticator app they confirmed (cached on the user object)."""
    cached = getattr(user, "_cms_has_otp_device", None)
    if cached is None:
        cached = bool(user.pk) and TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        user._cms_has_otp_device = cached
    return cached


def town_requires_two_factor(user: Any) -> bool:
    if not user.municipality_id:
        return False
    cached = getattr(user, "_cms_town_requires_2fa", None)
    if cached is None:
        cached = Municipality.objects.filter(pk=user.municipality_id, require_two_factor=True).exists()
        user._cms_town_requires_2fa = cached
    return cached


def two_factor_required(user: Any) -> bool:
    """A code is needed when the user enrolled an app, or their municipality requires one."""
    if not (user.is_authenticated and user.is_active):
        return False
    return has_confirmed_device(user) or town_requires_two_factor(user)


def session_is_verified(request: HttpRequest) -> bool:
    """Whether this session signed in with a code (django-otp's OTPMiddleware sets it)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def two_factor_satisfied(request: HttpRequest) -> bool:
    return not two_factor_required(request.user) or session_is_verified(request)


def must_enrol(request: HttpRequest) -> bool:
    """Signed in with the password, town requires two-factor, no app enrolled yet."""
    user = request.user
    return (
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and not has_confirmed_device(user)
        and town_requires_two_factor(user)
    )


def clear_cache(user: Any) -> None:
    for attr in ("_cms_has_otp_device", "_cms_town_requires_2fa"):
        if hasattr(user, attr):
            delattr(user, attr)
