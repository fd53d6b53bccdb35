"""A department head grants 編集者 through the admin in Chromium and sees the audit entry."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from municipalities.models import AuditEntry, Role, StaffRole
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login

pytestmark = pytest.mark.e2e


def test_head_grants_editor_and_sees_the_audit_entry(page, live_server, transactional_db, town, kenko, somu):
    # given: a head of 健康福祉課 and a colleague without a role
    head = make_staff("kenko_head", town, Role.HEAD, kenko)
    head.last_name, head.first_name = "健康", "花子"
    head.save(update_fields=["last_name", "first_name"])
    newcomer = make_staff("newcomer", town)

    # when: the head signs in and grants 編集者 on the add form
    admin_login(page, live_server, "kenko_head", PASSWORD)
    expect(page.locator("#site-name")).to_contain_text("みどり町 LINE 管理画面")
    page.goto(f"{live_server.url}/admin/municipalities/staffrole/add/")
    role_options = page.locator("#id_role option").all_inner_texts()
    assert "自治体管理者" not in role_options
    department_options = page.locator("#id_department option").all_inner_texts()
    assert "総務課" not in department_options
    expect(page.locator("#id_department")).to_have_value(str(kenko.pk))  # preselected
    user_options = page.locator("#id_user option").all_inner_texts()
    assert not any("kenko_head" in label for label in user_options)
    page.select_option("#id_user", str(newcomer.pk))
    page.select_option("#id_role", label="編集者")
    page.click("input[name=_save]")

    # then: saved, listed, and the object's history shows the audit entry
    expect(page.locator(".messagelist .success")).to_be_visible()
    role = StaffRole.objects.get(user=newcomer)
    assert (role.role, role.department_id, role.granted_by_id) == (Role.EDITOR, kenko.pk, head.pk)
    page.locator("#result_list").get_by_role("link", name=re.compile("newcomer")).click()
    page.click("a.historylink")
    history = page.locator("#audit-history")
    expect(history).to_contain_text("さんが職員の役割「newcomer（")
    expect(history).to_contain_text("を付与しました。")
    expect(history).to_contain_text("健康 花子（kenko_head）")
    expect(history).to_contain_text("編集者")

    # and in the audit log list
    page.goto(f"{live_server.url}/admin/municipalities/auditentry/")
    expect(page.locator("#result_list")).to_contain_text("newcomer（健康福祉課・編集者）")
    assert AuditEntry.objects.filter(action="municipalities.staffrole.granted", actor=head).count() == 1
