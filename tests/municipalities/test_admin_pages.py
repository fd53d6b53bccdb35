"""What staff see in the core admin: header, menu order, masked secrets, history, filters."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from municipalities.models import AuditEntry, Department, Role, StaffUser
from municipalities.services import staff_role_grant
from tests.conftest import make_staff

BACKEND = "municipalities.auth.RoleBackend"


def client_for(user: StaffUser) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def test_header_names_the_town_and_the_menu_is_in_japanese(kenko_editor):
    html = client_for(kenko_editor).get(reverse("admin:index")).content.decode()
    assert "みどり町 LINE 管理画面" in html
    assert (
        "<title>" in html and "みどり町 LINE 管理画面" in html.split("<title>", 1)[1].split("</title>", 1)[0]
    )
    assert "自治体・職員・住民" in html
    assert "サイトを表示" not in html  # there is no public site


def test_index_orders_the_core_models_settings_people_logs(town_admin):
    response = client_for(town_admin).get(reverse("admin:index"))
    core = next(app for app in response.context_data["app_list"] if app["app_label"] == "municipalities")
    names = [m["object_name"] for m in core["models"]]
    assert (
        names.index("Municipality")
        < names.index("Department")
        < names.index("StaffRole")
        < names.index("AuditEntry")
    )
    labels = [app["app_label"] for app in response.context_data["app_list"]]
    features = [
        label for label in labels if label in {"broadcasts", "reservations", "applications", "chatbot"}
    ]
    assert labels[: len(features)] == features  # the daily work first, the town's settings after


def test_index_shows_the_users_own_latest_changes(town_admin, kenko):
    newcomer = make_staff("newcomer", kenko.municipality)
    staff_role_grant(user=newcomer, role=Role.VIEWER, department=kenko, actor=town_admin)
    html = client_for(town_admin).get(reverse("admin:index")).content.decode()
    assert "最近の自分の操作" in html
    assert "さんが職員の役割「newcomer（" in html and "を付与しました。" in html


def test_municipality_page_masks_secrets_and_offers_the_webhook_url_to_copy(town, town_admin):
    # when
    response = client_for(town_admin).get(reverse("admin:municipalities_municipality_change", args=[town.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "midori-secret" not in html and "midori-token" not in html
    assert "••••••••cret" in html  # last four characters only
    assert '<code id="webhook-url">http://testserver/line/webhook/midori/</code>' in html
    assert 'data-copy-target="webhook-url"' in html
    assert "cms/admin/copy.js" in html
    assert "<script>" not in html  # nothing inline: the page works under the CSP


def test_changing_the_channel_secret_keeps_it_encrypted_and_audited(town, town_admin):
    # given
    client = client_for(town_admin)
    url = reverse("admin:municipalities_municipality_change", args=[town.pk])
    # when
    response = client.post(
        url,
        {
            "name": "みどり町",
            "prefecture": "長野県",
            "line_channel_id": "1234567890",
            "new_channel_secret": "brand-new-secret-9876",
            "new_channel_access_token": "",
            "liff_id": "",
            "follow_greeting": "",
            "talk_log_retention_days": "365",
            "garbage_collection_time": "8:30",
            "office_hours": "平日 8:30〜17:15",
            "handoff_pause_minutes": "30",
            "monthly_push_budget": "0",
        },
    )
    # then
    assert response.status_code == 302
    town.refresh_from_db()
    assert town.channel_secret == "brand-new-secret-9876"
    assert town.channel_access_token == "midori-token"  # left blank: unchanged
    history = client.get(
        reverse("admin:municipalities_municipality_history", args=[town.pk])
    ).content.decode()
    assert "自治体「みどり町」を変更しました。" in history
    assert "brand-new-secret-9876" not in history
    assert "********" in history


def test_history_page_shows_the_audit_entries_in_words(town, kenko, kenko_head):
    # given
    newcomer = make_staff("newcomer", town)
    role = staff_role_grant(user=newcomer, role=Role.EDITOR, department=kenko, actor=kenko_head)
    staff_role_grant(user=newcomer, role=Role.VIEWER, department=kenko, actor=kenko_head)
    # when
    html = (
        client_for(kenko_head)
        .get(reverse("admin:municipalities_staffrole_history", args=[role.pk]))
        .content.decode()
    )
    # then
    assert "さんが職員の役割「newcomer（" in html and "を付与しました。" in html
    assert "編集者 → 閲覧者" in html
    assert "令和" in html  # dates for staff in 和暦
    assert html.count("<tr>") >= 3


def test_list_filters_offer_only_the_users_departments(town_admin, kenko, somu, other_department):
    response = client_for(town_admin).get(reverse("admin:municipalities_staffrole_changelist"))
    html = response.content.decode()
    assert "健康福祉課" in html and "総務課" in html
    assert "あおば健康課" not in html


def test_head_add_role_form_preselects_their_department(kenko_head, kenko):
    response = client_for(kenko_head).get(reverse("admin:municipalities_staffrole_add"))
    form = response.context_data["adminform"].form
    assert form.initial["department"] == kenko.pk


def test_audit_entry_page_is_read_only_and_links_the_object(town_admin, kenko):
    # given
    newcomer = make_staff("newcomer", kenko.municipality)
    role = staff_role_grant(user=newcomer, role=Role.EDITOR, department=kenko, actor=town_admin)
    entry = AuditEntry.objects.get(object_id=str(role.pk), action="municipalities.staffrole.granted")
    # when
    response = client_for(town_admin).get(reverse("admin:municipalities_auditentry_change", args=[entry.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert not response.context_data["has_change_permission"]
    assert reverse("admin:municipalities_staffrole_change", args=[role.pk]) in html
    assert "newcomer（健康福祉課・編集者）" in html


def test_every_core_page_opens_for_every_role(
    town_admin, kenko_head, kenko_editor, kenko_viewer, somu_editor, superuser, resident
):
    # The core changelists, add pages and object pages, for everyone who may see them.
    pages = [
        "municipality",
        "department",
        "staffuser",
        "staffrole",
        "interest",
        "area",
        "resident",
        "auditentry",
        "talkmessage",
        "webhookevent",
    ]
    for user in [superuser, town_admin, kenko_head, kenko_editor, kenko_viewer, somu_editor]:
        client = client_for(user)
        for name in pages:
            response = client.get(reverse(f"admin:municipalities_{name}_changelist"))
            assert response.status_code in (200, 403), (user, name, response.status_code)
            if response.status_code == 200:
                for obj in response.context_data["cl"].result_list[:2]:
                    page = client.get(reverse(f"admin:municipalities_{name}_change", args=[obj.pk]))
                    assert page.status_code == 200, (user, name, obj)
                    history = client.get(reverse(f"admin:municipalities_{name}_history", args=[obj.pk]))
                    assert history.status_code == 200, (user, name, obj)
        assert Department.objects.exists()


def test_sign_in_records_are_named_in_japanese_for_the_operator(superuser):
    html = client_for(superuser).get(reverse("admin:index")).content.decode()
    assert "ログイン制限（システム運用者）" in html
    assert "ログイン失敗（集計）" in html and "ログインの記録" in html
    assert "Access attempts" not in html


def test_town_admin_adds_a_department_through_the_service(town, town_admin):
    response = client_for(town_admin).post(
        reverse("admin:municipalities_department_add"),
        {"municipality": town.pk, "code": "zaimu", "name": "財務課", "sort_order": "5"},
    )
    assert response.status_code == 302
    department = Department.objects.get(municipality=town, code="zaimu")
    assert department.sort_order == 5
    entry = AuditEntry.objects.get(action="municipalities.department.created", object_id=str(department.pk))
    assert entry.actor == town_admin


def test_adding_a_taken_department_code_shows_an_error_not_a_crash(town, kenko, town_admin):
    client = client_for(town_admin)
    response = client.post(
        reverse("admin:municipalities_department_add"),
        {"municipality": town.pk, "code": "kenko", "name": "二つ目", "sort_order": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert Department.objects.filter(municipality=town, code="kenko").count() == 1


def test_a_save_the_service_refuses_shows_the_form_again_with_what_was_typed(town_admin, areas):
    # given: a town admin edits an area, and the service refuses the save
    from unittest import mock

    from municipalities.errors import MunicipalityError

    area = areas["東区"]
    url = reverse("admin:municipalities_area_change", args=[area.pk])
    refusal = MunicipalityError("この地区は配信予約で使われているため、今は変更できません。")
    # when
    with mock.patch("municipalities.services.admin_object_save", side_effect=refusal):
        response = client_for(town_admin).post(
            url, {"municipality": area.municipality_id, "name": "東区（新）", "sort_order": "7"}
        )
    # then: the form again (no redirect), the typed values kept, the reason at the top
    assert response.status_code == 200
    form = response.context_data["adminform"].form
    assert form.data["name"] == "東区（新）" and form.data["sort_order"] == "7"
    assert form.non_field_errors() == ["この地区は配信予約で使われているため、今は変更できません。"]
    html = response.content.decode()
    assert 'value="東区（新）"' in html and "この地区は配信予約で使われているため" in html
    # and: nothing was written
    area.refresh_from_db()
    assert area.name == "東区"


def test_error_pages_speak_japanese(kenko_editor, settings):
    # given: production settings (no debug pages)
    from django.test import RequestFactory
    from django.views.defaults import server_error

    settings.DEBUG = False
    client = client_for(kenko_editor)
    # when: an editor opens a page outside their role, and an address that does not exist
    forbidden = client.get(reverse("admin:municipalities_webhookevent_changelist"))
    missing = client.get("/liff/no-such-page/")
    # then: both say what happened, and what to do, in Japanese
    assert forbidden.status_code == 403
    assert "このページを開く権限がありません" in forbidden.content.decode()
    assert "所属長または自治体管理者" in forbidden.content.decode()
    assert forbidden.content.decode().lstrip().startswith("<!doctype html>")  # nothing before the page
    assert missing.status_code == 404
    assert "ページが見つかりません" in missing.content.decode()
    # and: the 500 page renders without a request context
    error = server_error(RequestFactory().get("/"))
    assert error.status_code == 500 and "ただいま表示できません" in error.content.decode()
