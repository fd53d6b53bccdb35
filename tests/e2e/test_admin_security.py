"""In Chromium: two-factor enrolment, the webhook URL copy button, and no CSP violations."""

from __future__ import annotations

import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from municipalities.models import Municipality, Role
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login

pytestmark = pytest.mark.e2e


def _code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def _csp_violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    return messages


def test_town_requiring_two_factor_enrols_in_the_browser(page, live_server, transactional_db, town, kenko):
    # given
    Municipality.objects.filter(pk=town.pk).update(require_two_factor=True)
    make_staff("kenko_staff", town, Role.EDITOR, kenko)
    violations = _csp_violations(page)
    # when: password only
    admin_login(page, live_server, "kenko_staff", PASSWORD)
    # then: the enrolment page, with a QR code that renders
    expect(page).to_have_url(f"{live_server.url}/admin/two-factor/setup/?next=/admin/")
    qr = page.locator(".cms-qr img")
    expect(qr).to_be_visible()
    assert page.evaluate("document.querySelector('.cms-qr img').naturalWidth") > 0
    # and no other admin page opens yet
    page.goto(f"{live_server.url}/admin/municipalities/resident/")
    expect(page).to_have_url(
        f"{live_server.url}/admin/two-factor/setup/?next=/admin/municipalities/resident/"
    )
    # when: the code from the app
    device = TOTPDevice.objects.get(user__username="kenko_staff", confirmed=False)
    page.fill("#id_token", _code(device))
    page.click("input[type=submit]")
    # then
    expect(page.locator(".messagelist .success")).to_contain_text("二段階認証を設定しました")
    expect(page).to_have_url(f"{live_server.url}/admin/municipalities/resident/")
    assert violations == []


def test_webhook_url_copy_button_copies(page, live_server, transactional_db, town):
    # given
    make_staff("joho", town, Role.MUNICIPALITY_ADMIN)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    violations = _csp_violations(page)
    admin_login(page, live_server, "joho", PASSWORD)
    # when
    page.goto(f"{live_server.url}/admin/municipalities/municipality/{town.pk}/change/")
    page.click("button[data-copy-target=webhook-url]")
    # then
    expect(page.locator("button[data-copy-target=webhook-url]")).to_have_text("コピーしました")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/line/webhook/midori/"
    assert violations == []
