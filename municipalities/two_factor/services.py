"""Writes of two-factor sign-in: enrol, confirm, verify at login, reset. Each is audited."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities import jp, permissions
from municipalities.audit import audit_log
from municipalities.errors import MunicipalityError
from municipalities.models import StaffUser
from municipalities.two_factor import policy

DEVICE_NAME = "認証アプリ"


def normalize_token(token: str) -> str:
    """Codes typed with full-width digits or spaces ("１２３ ４５６") become "123456"."""
    return "".join(ch for ch in jp.nfkc(token) if ch.isdigit())


@transaction.atomic(durable=True)
def two_factor_device_start(*, user: StaffUser) -> TOTPDevice:
    """The unconfirmed authenticator device the user is enrolling (created once, then reused).

    Raises MunicipalityError when the user already has a confirmed device: changing phones
    goes through ``two_factor_reset`` by a 自治体管理者, so a stolen session cannot re-enrol.
    """
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise MunicipalityError(_("二段階認証はすでに設定されています。"))
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic(durable=True)
def two_factor_device_confirm(*, user: StaffUser, token: str) -> TOTPDevice:
    """Confirm the device being enrolled with a code from the app.

    Marks it confirmed (from now on the code is asked at every login) and removes any other
    unconfirmed device. Raises MunicipalityError on a wrong or missing code. Audited.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise MunicipalityError(_("設定を最初からやり直してください。"))
    code = normalize_token(token)
    if len(code) != device.digits:
        raise MunicipalityError(
            _("認証アプリに表示されている %(n)d 桁の数字を入力してください。") % {"n": device.digits}
        )
    if not device.verify_token(code):
        raise MunicipalityError(_("確認コードが正しくありません。認証アプリの最新の数字を入力してください。"))
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    audit_log(
        actor=user,
        action="municipalities.staffuser.two_factor_enrolled",
        obj=user,
        data={"device": device.name},
    )
    policy.clear_cache(user)
    return device


@transaction.atomic(durable=True)
def two_factor_verify(*, user: StaffUser, token: str) -> TOTPDevice | None:
    """The confirmed device that accepts ``token`` at login, or None.

    Devices are locked while checking (a code is accepted once: django-otp remembers the last
    time step) and a wrong code counts towards the device's throttling.
    """
    code = normalize_token(token)
    if not code:
        return None
    for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
        if device.verify_token(code):
            return device
    return None


@transaction.atomic(durable=True)
def two_factor_reset(*, user: StaffUser, actor: StaffUser | None) -> int:
    """Remove a staff member's authenticator devices (lost or new phone). Returns how many.

    Only those who may change the staff account (自治体管理者 of the town, superuser). The
    staff member enrols again at the next login when their town requires two-factor. Audited.
    """
    if actor is not None:
        permissions.require(
            actor,
            "change",
            user,
            error=MunicipalityError,
            message=_("この職員アカウントを変更する権限がありません。"),
        )
        if actor.pk == user.pk and not actor.is_superuser:
            raise MunicipalityError(_("自分自身の二段階認証はリセットできません。"))
    deleted, _details = TOTPDevice.objects.filter(user=user).delete()
    audit_log(
        actor=actor, action="municipalities.staffuser.two_factor_reset", obj=user, data={"devices": deleted}
    )
    policy.clear_cache(user)
    return deleted
