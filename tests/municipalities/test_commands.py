"""The two set-up commands: create_municipality and grant_role."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from municipalities.models import AuditEntry, Municipality, Role, StaffRole, StaffUser
from tests.conftest import make_staff


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- create_municipality ---------------------------------------------------------------------


def test_create_municipality_creates_with_encrypted_secrets_and_audits(db):
    # when
    out = run(
        "create_municipality",
        "sakura",
        "--name",
        "さくら村",
        "--channel-secret",
        "s3cret",
        "--channel-access-token",
        "t0ken",
        "--channel-id",
        "2001234567",
    )
    # then
    town = Municipality.objects.get(slug="sakura")
    assert (town.name, town.line_channel_id, town.channel_secret, town.channel_access_token) == (
        "さくら村",
        "2001234567",
        "s3cret",
        "t0ken",
    )
    assert "作成しました" in out and "/line/webhook/sakura/" in out
    entry = AuditEntry.objects.get(action="municipalities.municipality.created", object_id=str(town.pk))
    assert entry.actor is None and entry.data["channel_secret"] == "********"


def test_create_municipality_is_idempotent_and_updates(db):
    # given
    run(
        "create_municipality",
        "sakura",
        "--name",
        "さくら村",
        "--channel-secret",
        "a",
        "--channel-access-token",
        "b",
    )
    # when
    out = run(
        "create_municipality",
        "sakura",
        "--name",
        "さくら町",
        "--channel-secret",
        "c",
        "--channel-access-token",
        "d",
    )
    run(
        "create_municipality",
        "sakura",
        "--name",
        "さくら町",
        "--channel-secret",
        "c",
        "--channel-access-token",
        "d",
    )
    # then
    assert Municipality.objects.filter(slug="sakura").count() == 1
    town = Municipality.objects.get(slug="sakura")
    assert (town.name, town.channel_secret, town.channel_access_token) == ("さくら町", "c", "d")
    assert "更新しました" in out
    assert (
        AuditEntry.objects.filter(
            action="municipalities.municipality.updated", object_id=str(town.pk)
        ).count()
        == 2
    )


def test_create_municipality_rejects_a_bad_slug_in_japanese(db):
    with pytest.raises(CommandError, match="保存できません"):
        run(
            "create_municipality",
            "さくら",
            "--name",
            "さくら村",
            "--channel-secret",
            "a",
            "--channel-access-token",
            "b",
        )
    assert not Municipality.objects.exists()


def test_create_municipality_needs_the_name(db):
    with pytest.raises(CommandError):
        run("create_municipality", "sakura", "--channel-secret", "a", "--channel-access-token", "b")


def test_secrets_are_stored_encrypted(db):
    from django.db import connection

    run(
        "create_municipality",
        "sakura",
        "--name",
        "さくら村",
        "--channel-secret",
        "plain-secret",
        "--channel-access-token",
        "b",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT channel_secret FROM municipalities_municipality WHERE slug = %s", ["sakura"])
        (stored,) = cursor.fetchone()
    assert "plain-secret" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


# --- grant_role ------------------------------------------------------------------------------


@pytest.mark.parametrize("role_arg", ["editor", "編集者", "EDITOR", "　編集者　"])
def test_grant_role_accepts_values_and_japanese_labels(town, kenko, role_arg):
    user = make_staff("hanako", town)
    out = run("grant_role", "hanako", "midori", "kenko", role_arg)
    role = StaffRole.objects.get(user=user)
    assert (role.role, role.department) == (Role.EDITOR, kenko)
    assert "編集者" in out and "健康福祉課" in out
    assert AuditEntry.objects.filter(
        action="municipalities.staffrole.granted", object_id=str(role.pk)
    ).exists()


def test_grant_role_municipality_admin_with_dash(town, kenko):
    user = make_staff("joho2", town)
    run("grant_role", "joho2", "midori", "-", "自治体管理者")
    role = StaffRole.objects.get(user=user)
    assert role.role == Role.MUNICIPALITY_ADMIN and role.department is None


def test_grant_role_replaces_the_role_in_the_same_department(town, kenko):
    user = make_staff("hanako", town)
    run("grant_role", "hanako", "midori", "kenko", "viewer")
    run("grant_role", "hanako", "midori", "kenko", "head")
    assert list(StaffRole.objects.filter(user=user).values_list("role", flat=True)) == [Role.HEAD]


def test_grant_role_puts_an_account_without_town_into_the_town(town, kenko):
    user = StaffUser.objects.create_user("fresh", "fresh@example.jp", "x-pass-2026")
    run("grant_role", "fresh", "midori", "kenko", "editor")
    user.refresh_from_db()
    assert user.municipality == town and user.is_staff


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "midori", "kenko", "editor"], "職員「nobody」が見つかりません"),
        (["hanako", "nowhere", "kenko", "editor"], "自治体「nowhere」が見つかりません"),
        (["hanako", "midori", "zaimu", "editor"], "課コード「zaimu」は「みどり町」にありません"),
        (["hanako", "midori", "kenko", "boss"], "役割「boss」はありません"),
        (["hanako", "midori", "kenko", "municipality_admin"], "課コードには「-」"),
        (["hanako", "midori", "-", "editor"], "課コードが必要です"),
        (["foreigner", "midori", "kenko", "editor"], "「みどり町」の職員ではありません"),
    ],
)
def test_grant_role_errors_are_clear_and_nothing_is_written(town, kenko, other_town, args, message):
    make_staff("hanako", town)
    make_staff("foreigner", other_town)
    with pytest.raises(CommandError, match=message):
        run("grant_role", *args)
    assert not StaffRole.objects.exists()


def test_grant_role_exits_non_zero_from_the_shell(town, kenko):
    from django.core.management import ManagementUtility

    utility = ManagementUtility(["manage.py", "grant_role", "nobody", "midori", "kenko", "editor"])
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code != 0
