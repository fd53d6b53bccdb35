"""The generic audited admin writes (admin_object_save / admin_object_delete) and two-factor services."""

from __future__ import annotations

import time

import pytest
from django import forms
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities.errors import MunicipalityError
from municipalities.models import Area, AuditEntry, Department
from municipalities.services import admin_object_delete, admin_object_save
from municipalities.two_factor.services import (
    normalize_token,
    two_factor_device_confirm,
    two_factor_device_start,
    two_factor_reset,
    two_factor_verify,
)


class AreaForm(forms.ModelForm):
    class Meta:
        model = Area
        fields = ["municipality", "name", "kana", "sort_order"]


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


# --- admin_object_save / admin_object_delete -------------------------------------------------


def test_admin_save_creates_and_changes_with_before_after(town, town_admin):
    # given / when: create
    form = AreaForm({"municipality": town.pk, "name": "港町", "kana": "みなとまち", "sort_order": 3})
    assert form.is_valid()
    area = admin_object_save(obj=form.instance, form=form, formsets=[], created=True, actor=town_admin)
    # when: change
    form = AreaForm(
        {"municipality": town.pk, "name": "港区", "kana": "みなとく", "sort_order": 3}, instance=area
    )
    assert form.is_valid()
    admin_object_save(obj=form.instance, form=form, formsets=[], created=False, actor=town_admin)
    # then
    created = AuditEntry.objects.get(action="municipalities.area.created", object_id=str(area.pk))
    changed = AuditEntry.objects.get(action="municipalities.area.changed", object_id=str(area.pk))
    assert created.data["name"] == "港町" and created.actor == town_admin
    assert changed.data == {"name": ["港町", "港区"], "kana": ["みなとまち", "みなとく"]}


def test_admin_save_refuses_without_permission_and_writes_nothing(town, kenko_editor):
    form = AreaForm({"municipality": town.pk, "name": "港町", "kana": "", "sort_order": 0})
    assert form.is_valid()
    with pytest.raises(MunicipalityError, match="権限がありません"):
        admin_object_save(obj=form.instance, form=form, formsets=[], created=True, actor=kenko_editor)
    assert not Area.objects.filter(name="港町").exists()


def test_admin_save_refuses_moving_an_object_to_another_town(town, other_town, town_admin, areas):
    area = areas["本町"]
    form = AreaForm(
        {"municipality": other_town.pk, "name": "本町", "kana": "", "sort_order": 0}, instance=area
    )
    assert form.is_valid()
    with pytest.raises(MunicipalityError):
        admin_object_save(obj=form.instance, form=form, formsets=[], created=False, actor=town_admin)
    assert Area.objects.get(pk=area.pk).municipality == town


def test_admin_save_refuses_a_change_to_an_object_out_of_reach(other_town, town_admin):
    foreign = Area.objects.create(municipality=other_town, name="外")
    form = AreaForm(
        {"municipality": other_town.pk, "name": "内", "kana": "", "sort_order": 0}, instance=foreign
    )
    assert form.is_valid()
    with pytest.raises(MunicipalityError, match="権限がありません"):
        admin_object_save(obj=form.instance, form=form, formsets=[], created=False, actor=town_admin)
    assert Area.objects.get(pk=foreign.pk).name == "外"


def test_admin_delete_is_audited(town_admin, areas):
    area = areas["西区"]
    pk = area.pk
    admin_object_delete(obj=area, actor=town_admin)
    assert not Area.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.get(action="municipalities.area.deleted", object_id=str(pk)).data == {
        "repr": "西区"
    }


def test_admin_delete_refuses_without_permission(kenko_head, areas):
    with pytest.raises(MunicipalityError, match="権限がありません"):
        admin_object_delete(obj=areas["西区"], actor=kenko_head)
    assert Area.objects.filter(pk=areas["西区"].pk).exists()


def test_admin_delete_of_a_referenced_object_is_a_clear_error(town_admin, kenko, kenko_editor):
    with pytest.raises(MunicipalityError, match="参照されているため削除できません"):
        admin_object_delete(obj=kenko, actor=town_admin)
    assert Department.objects.filter(pk=kenko.pk).exists()
    assert not AuditEntry.objects.filter(action="municipalities.department.deleted").exists()


# --- two-factor ------------------------------------------------------------------------------


def test_normalize_token_accepts_full_width_and_spaces():
    assert normalize_token("１２３ ４５６") == "123456"
    assert normalize_token("") == ""


def test_enrol_start_reuses_the_pending_device_and_confirm_is_audited(kenko_editor):
    # given
    device = two_factor_device_start(user=kenko_editor)
    assert two_factor_device_start(user=kenko_editor).pk == device.pk
    # when
    confirmed = two_factor_device_confirm(user=kenko_editor, token=code_for(device))
    # then
    assert confirmed.confirmed
    entry = AuditEntry.objects.get(action="municipalities.staffuser.two_factor_enrolled")
    assert entry.actor == kenko_editor and entry.object_id == str(kenko_editor.pk)
    with pytest.raises(MunicipalityError, match="すでに設定されています"):
        two_factor_device_start(user=kenko_editor)


@pytest.mark.parametrize(("token", "message"), [("12", "6 桁"), ("", "6 桁"), ("wrong!", "6 桁")])
def test_enrol_confirm_refuses_malformed_codes(kenko_editor, token, message):
    two_factor_device_start(user=kenko_editor)
    with pytest.raises(MunicipalityError, match=message):
        two_factor_device_confirm(user=kenko_editor, token=token)
    assert not TOTPDevice.objects.filter(user=kenko_editor, confirmed=True).exists()


def test_enrol_confirm_refuses_a_wrong_code_and_a_missing_device(kenko_editor):
    with pytest.raises(MunicipalityError, match="最初からやり直して"):
        two_factor_device_confirm(user=kenko_editor, token="123456")
    device = two_factor_device_start(user=kenko_editor)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    with pytest.raises(MunicipalityError, match="正しくありません"):
        two_factor_device_confirm(user=kenko_editor, token=wrong)
    assert not AuditEntry.objects.filter(action="municipalities.staffuser.two_factor_enrolled").exists()


def test_verify_accepts_a_code_once(kenko_editor):
    device = TOTPDevice.objects.create(user=kenko_editor, name="app", confirmed=True)
    code = code_for(device)
    assert two_factor_verify(user=kenko_editor, token=code) == device
    assert two_factor_verify(user=kenko_editor, token=code) is None  # replay of the same code
    assert two_factor_verify(user=kenko_editor, token="") is None


def test_reset_by_town_admin_is_audited_and_refused_to_others(kenko_editor, town_admin, kenko_head):
    TOTPDevice.objects.create(user=kenko_editor, name="app", confirmed=True)
    with pytest.raises(MunicipalityError, match="権限がありません"):
        two_factor_reset(user=kenko_editor, actor=kenko_head)
    assert two_factor_reset(user=kenko_editor, actor=town_admin) == 1
    assert not TOTPDevice.objects.filter(user=kenko_editor).exists()
    entry = AuditEntry.objects.get(action="municipalities.staffuser.two_factor_reset")
    assert entry.actor == town_admin and entry.data == {"devices": 1}


def test_town_admin_cannot_reset_their_own_device(town_admin):
    TOTPDevice.objects.create(user=town_admin, name="app", confirmed=True)
    with pytest.raises(MunicipalityError, match="自分自身"):
        two_factor_reset(user=town_admin, actor=town_admin)
