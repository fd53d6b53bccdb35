"""Staff sign-in hardening: lockout (django-axes), TOTP two-factor (django-otp), headers."""

from __future__ import annotations

import re
import time

from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities.models import AuditEntry, Municipality, Resident, StaffUser
from tests.conftest import PASSWORD

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
SETUP = reverse("admin:two_factor_setup")


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def enrolled(user: StaffUser) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)


def login(client: Client, username: str, password: str = PASSWORD, token: str = "", next_url: str = INDEX):
    return client.post(
        LOGIN, {"username": username, "password": password, "otp_token": token, "next": next_url}
    )


def require_two_factor(town: Municipality) -> None:
    Municipality.objects.filter(pk=town.pk).update(require_two_factor=True)


# --- lockout ---------------------------------------------------------------------------------


def test_repeated_wrong_passwords_lock_the_account_out(kenko_editor, settings):
    # given
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(client, "kenko_staff", "wrong-password")
        assert response.status_code == 200
        assert "ユーザー名とパスワード" in response.content.decode() or response.context["form"].errors
    # when: the limit is reached, even the right password is refused
    login(client, "kenko_staff", "wrong-password")
    response = login(client, "kenko_staff", PASSWORD)
    # then
    assert response.status_code == 429
    assert "一時的にログインできません" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_lockout_is_per_username(kenko_editor, somu_editor, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "kenko_staff", "wrong-password")
    response = login(client, "somu_staff", PASSWORD)
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_town_admin_unlocks_a_locked_out_member_and_it_is_audited(town_admin, kenko_editor, settings):
    # given: a locked-out editor
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(Client(), "kenko_staff", "wrong-password")
    assert login(Client(), "kenko_staff", PASSWORD).status_code == 429
    admin_client = Client()
    admin_client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    # when
    response = admin_client.post(
        reverse("admin:municipalities_staffuser_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [kenko_editor.pk]},
    )
    # then
    assert response.status_code == 302
    assert login(Client(), "kenko_staff", PASSWORD).status_code == 302
    entry = AuditEntry.objects.get(action="municipalities.staffuser.unlocked", object_id=str(kenko_editor.pk))
    assert entry.actor == town_admin


def test_wrong_one_time_codes_count_towards_the_lockout(kenko_editor, settings):
    # given
    device = enrolled(kenko_editor)
    client = Client()
    # when
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(
            client, "kenko_staff", PASSWORD, token="000000" if code_for(device) != "000000" else "111111"
        )
    # then
    response = login(client, "kenko_staff", PASSWORD, token=code_for(device))
    assert response.status_code == 429


# --- two-factor at login ---------------------------------------------------------------------


def test_login_form_has_a_one_time_code_field():
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert 'name="otp_token"' in response.content.decode()
    assert 'autocomplete="one-time-code"' in response.content.decode()


def test_enrolled_staff_must_enter_the_code(kenko_editor):
    # given
    enrolled(kenko_editor)
    client = Client()
    # when
    response = login(client, "kenko_staff", PASSWORD)
    # then
    assert response.status_code == 200
    assert "認証アプリの 6 桁の数字も入力してください" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_enrolled_staff_with_a_wrong_code_stays_out(kenko_editor):
    device = enrolled(kenko_editor)
    client = Client()
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = login(client, "kenko_staff", PASSWORD, token=wrong)
    assert response.status_code == 200
    assert "ワンタイムパスワードが正しくありません" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_enrolled_staff_with_the_code_get_a_verified_session(kenko_editor):
    # given
    device = enrolled(kenko_editor)
    client = Client()
    # when: the code typed with full-width digits, as a Japanese IME may produce it
    token = code_for(device).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = login(client, "kenko_staff", PASSWORD, token=token)
    # then
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200
    assert client.session["otp_device_id"] == device.persistent_id


def test_a_session_without_the_code_is_not_enough_for_an_enrolled_user(kenko_editor):
    # given: a session that signed in with the password only (e.g. before enrolling elsewhere)
    enrolled(kenko_editor)
    client = Client()
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    # when
    response = client.get(reverse("admin:municipalities_resident_changelist"))
    # then
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_staff_without_device_in_a_town_without_the_rule_sign_in_with_password(kenko_editor):
    client = Client()
    assert login(client, "kenko_staff", PASSWORD).status_code == 302
    assert client.get(INDEX).status_code == 200


# --- enrolment when the town requires it -----------------------------------------------------


def test_town_requiring_two_factor_sends_staff_to_enrolment_before_any_admin_page(town, kenko_editor):
    # given
    require_two_factor(town)
    client = Client()
    # when
    response = login(client, "kenko_staff", PASSWORD)
    # then: the password is accepted, but every admin page leads to the enrolment page
    assert response.status_code == 302
    for url in [INDEX, reverse("admin:municipalities_resident_changelist"), reverse("admin:password_change")]:
        page = client.get(url)
        assert page.status_code == 302, url
        assert page["Location"].startswith(SETUP), url


def test_enrolment_shows_a_qr_code_and_confirming_a_code_opens_the_admin(town, kenko_editor):
    # given
    require_two_factor(town)
    client = Client()
    login(client, "kenko_staff", PASSWORD)
    # when: the enrolment page
    page = client.get(SETUP)
    # then: a QR code as an inline image (no script), and the key for typing by hand
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', html)
    assert "この自治体では二段階認証が必須です" in html
    device = TOTPDevice.objects.get(user=kenko_editor, confirmed=False)
    assert "otpauth://" in device.config_url
    # when: a wrong code, then the right one
    wrong = client.post(SETUP, {"token": f"{(int(code_for(device)) + 1) % 1_000_000:06d}"})
    assert wrong.status_code == 200
    assert "確認コードが正しくありません" in wrong.content.decode()
    done = client.post(SETUP, {"token": code_for(device), "next": INDEX})
    # then
    assert done.status_code == 302
    assert done["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    entry = AuditEntry.objects.get(action="municipalities.staffuser.two_factor_enrolled")
    assert entry.actor == kenko_editor
    assert entry.object_id == str(kenko_editor.pk)


def test_after_enrolment_the_next_login_asks_for_the_code(town, kenko_editor):
    # given
    require_two_factor(town)
    device = enrolled(kenko_editor)
    client = Client()
    # when / then
    assert login(client, "kenko_staff", PASSWORD).status_code == 200
    assert login(client, "kenko_staff", PASSWORD, token=code_for(device)).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_enrolment_page_refuses_anonymous_visitors():
    response = Client().get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_enrolled_user_cannot_enrol_a_second_app(kenko_editor):
    # given
    device = enrolled(kenko_editor)
    client = Client()
    login(client, "kenko_staff", PASSWORD, token=code_for(device))
    # when
    page = client.get(SETUP)
    # then
    assert "二段階認証は設定済みです" in page.content.decode()
    assert TOTPDevice.objects.filter(user=kenko_editor).count() == 1


def test_town_admin_resets_two_factor_and_it_is_audited(town_admin, kenko_editor):
    # given
    enrolled(kenko_editor)
    client = Client()
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    # when
    response = client.post(
        reverse("admin:municipalities_staffuser_changelist"),
        {"action": "reset_two_factor", "_selected_action": [kenko_editor.pk]},
    )
    # then
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=kenko_editor).exists()
    assert AuditEntry.objects.filter(
        action="municipalities.staffuser.two_factor_reset", object_id=str(kenko_editor.pk), actor=town_admin
    ).exists()


def test_head_cannot_reset_two_factor(kenko_head, kenko_editor):
    enrolled(kenko_editor)
    client = Client()
    client.force_login(kenko_head, backend="municipalities.auth.RoleBackend")
    response = client.post(
        reverse("admin:municipalities_staffuser_changelist"),
        {"action": "reset_two_factor", "_selected_action": [kenko_editor.pk]},
    )
    assert response.status_code in (200, 302, 403)
    assert TOTPDevice.objects.filter(user=kenko_editor).exists()


# --- headers and cookies (the suite runs with DEBUG off) -------------------------------------


def test_security_headers_when_not_debug(kenko_editor, settings):
    assert not settings.DEBUG
    client = Client()
    response = client.post(
        LOGIN, {"username": "kenko_staff", "password": PASSWORD, "next": INDEX}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]
    page = client.get(INDEX, secure=True)
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    csp = page["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert page["X-Frame-Options"] == "DENY"


# --- one rule for every staff-only URL (TwoFactorMiddleware) ---------------------------------

SIMULATOR = reverse("line:simulator")
SIMULATOR_RESIDENTS = reverse("line:simulator_residents")
SIMULATOR_SEND = reverse("line:simulator_send")


def simulator_requests(client: Client, town: Municipality) -> dict[str, object]:
    return {
        "page": client.get(SIMULATOR),
        "residents": client.get(SIMULATOR_RESIDENTS, {"municipality": town.pk}),
        "send": client.post(
            SIMULATOR_SEND, {"municipality": town.pk, "type": "follow"}, content_type="application/json"
        ),
    }


def test_unenrolled_staff_of_a_town_requiring_two_factor_cannot_use_the_simulator(town, kenko_head):
    # given: the password accepted, no authenticator app yet
    require_two_factor(town)
    client = Client()
    assert login(client, "kenko_head", PASSWORD).status_code == 302
    # when
    responses = simulator_requests(client, town)
    # then: the page leads to the enrolment, the JSON endpoints refuse in Japanese
    assert responses["page"].status_code == 302
    assert responses["page"]["Location"].startswith(SETUP)
    for name in ["residents", "send"]:
        assert responses[name].status_code == 403, name
        assert "二段階認証の設定が必要です" in responses[name].json()["message"], name
    assert not Resident.objects.exists()


def test_an_enrolled_session_without_the_code_cannot_use_the_simulator(town, kenko_head):
    # given: an enrolled member of staff whose session signed in with the password only
    enrolled(kenko_head)
    client = Client()
    client.force_login(kenko_head, backend="municipalities.auth.RoleBackend")
    # when
    responses = simulator_requests(client, town)
    # then: the page leads to the login (where the code is asked), the JSON endpoints refuse
    assert responses["page"].status_code == 302
    assert responses["page"]["Location"].startswith(LOGIN)
    assert responses["page"]["Location"] == f"{LOGIN}?next={SIMULATOR}"
    for name in ["residents", "send"]:
        assert responses[name].status_code == 403, name
        assert "ワンタイムパスワード" in responses[name].json()["message"], name
    assert not Resident.objects.exists()


def test_a_verified_session_uses_the_simulator(town, kenko_head):
    # given
    require_two_factor(town)
    device = enrolled(kenko_head)
    client = Client()
    assert login(client, "kenko_head", PASSWORD, token=code_for(device), next_url=SIMULATOR)["Location"] == (
        SIMULATOR
    )
    # when
    responses = simulator_requests(client, town)
    # then
    assert responses["page"].status_code == 200
    assert responses["residents"].status_code == 200
    assert responses["send"].status_code == 200
    assert Resident.objects.get(municipality=town).is_simulated


def test_the_login_asks_an_unverified_session_for_the_code_instead_of_looping(kenko_editor):
    # given
    enrolled(kenko_editor)
    client = Client()
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    # when
    page = client.get(f"{LOGIN}?next={INDEX}")
    # then
    assert page.status_code == 200
    assert 'name="otp_token"' in page.content.decode()


def test_resident_pages_and_health_are_not_staff_only(town, kenko_editor):
    # given: an unenrolled member of staff of a town requiring two-factor
    require_two_factor(town)
    client = Client()
    login(client, "kenko_staff", PASSWORD)
    # when / then: pages for residents answer as they would for anyone
    assert client.get("/healthz").status_code == 200
    settings_page = client.get(reverse("line:receive_settings"))
    assert settings_page.status_code == 403  # "please sign in through LINE", not a staff redirect
    assert "Location" not in settings_page
