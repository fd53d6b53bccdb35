"""The admin login form with a one-time code, and the enrolment confirmation form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from municipalities.two_factor import policy
from municipalities.two_factor.services import two_factor_verify

_CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "size": "8", "maxlength": "12"}


class CmsAuthenticationForm(AdminAuthenticationForm):
    """Username, password and — for staff with an authenticator app — its 6-digit code.

    A wrong code counts as a failed login (django-axes locks the account out after repeated
    failures, exactly as for wrong passwords).
    """

    otp_token = forms.CharField(
        label=_("ワンタイムパスワード"),
        required=False,
        widget=forms.TextInput(attrs=_CODE_ATTRS),
        help_text=_("二段階認証を設定した方は、認証アプリに表示されている 6 桁の数字を入力してください。"),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("二段階認証が設定されています。認証アプリの 6 桁の数字も入力してください。"),
        "otp_invalid": _(
            "ワンタイムパスワードが正しくありません。認証アプリの最新の数字を入力してください。"
        ),
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user = self.get_user()
        if user is None or not policy.has_confirmed_device(user):
            return data
        token = data.get("otp_token") or ""
        if not token.strip():
            raise ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = two_factor_verify(user=user, token=token)
        if device is None:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        # django-otp's user_logged_in handler stores the device in the session.
        user.otp_device = device
        return data


class TwoFactorConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("確認コード"),
        max_length=12,
        widget=forms.TextInput(attrs={**_CODE_ATTRS, "autofocus": "autofocus"}),
        help_text=_("認証アプリに「%(issuer)s」が追加されたら、表示された 6 桁の数字を入力してください。"),
    )
