"""The department boundary in the browser: an editor of 総務課 cannot reach a 健康福祉課 booking by
any path the UI offers him — the admin's pages and every link on them, the talk log, the
hand-off page and the simulator — nor by typing the booking's own URLs."""

from __future__ import annotations

from collections import deque
from urllib.parse import urljoin, urlparse

import pytest
from django.test import Client
from django.urls import reverse

from municipalities.models import Role, TalkMessage
from reservations.services import reservation_book
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login
from tests.fakeline import post_webhook, webhook_event
from tests.reservations.factories import MenuFactory, SlotFactory, in_days

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_PAGES = 150  # the crawl is bounded; the demo-sized admin has far fewer pages
SKIP = ("/admin/logout/", "/admin/password_change/", "/admin/jsi18n/", "/admin/two-factor/")


def _crawl(page, base: str, start: list[str]) -> dict[str, str]:
    """Visit every same-site link reachable from ``start`` (GET only); {path: page text}."""
    seen: dict[str, str] = {}
    queue = deque(start)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        response = page.goto(base + path)
        seen[path] = page.inner_text("body") if response is not None else ""
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            url = urlparse(urljoin(base + path, href))
            # Sorting and filter links only re-show what the page already shows (a filter's
            # choices are on the changelist itself); following them would multiply the crawl.
            target = url.path
            if (
                not url.query
                and url.netloc == urlparse(base).netloc
                and url.path.startswith(("/admin/", "/simulator/"))
                and not url.path.startswith(SKIP)
                and "export" not in url.path  # downloads, checked by the permission matrix
                and target not in seen
            ):
                queue.append(target)
    return seen


def test_somu_editor_cannot_reach_a_kenko_booking_by_any_path(page, live_server, town, kenko, somu, resident):
    # given: a 健康福祉課 booking, its LINE notice in the talk log, and the resident's 「予約確認」
    menu = MenuFactory(department=kenko, name="骨密度測定の集団検診")
    slot = SlotFactory(menu=menu, starts_at=in_days(5, 10), capacity=3)
    reservation = reservation_book(slot=slot, resident=resident)
    post_webhook(Client(), town, webhook_event("message", resident.line_user_id, text="予約確認"))
    assert TalkMessage.objects.filter(resident=resident, department=kenko).exists()  # the notice
    assert TalkMessage.objects.filter(resident=resident, department=None, direction="out").exists()
    make_staff("somu_staff", town, Role.EDITOR, somu)

    # when: the 総務課 editor signs in and follows every link the admin offers him
    admin_login(page, live_server, "somu_staff", PASSWORD)
    pages = _crawl(page, live_server.url, ["/admin/", "/simulator/"])

    # then: the booking, its menu and its code appear on none of them
    assert len(pages) > 10  # the crawl did walk the admin
    leaks = {path for path, text in pages.items() if reservation.code in text or menu.name in text}
    assert leaks == set()
    # and the talk log and the hand-off page were among them, open to him, without the booking
    assert any(path.startswith("/admin/municipalities/talkmessage/") for path in pages)
    assert any(path.startswith("/admin/chatbot/talkthread/") for path in pages)

    # and typing the booking's own URLs does not help: not found or refused, never shown
    for url in (
        reverse("admin:reservations_reservation_change", args=[reservation.pk]),
        reverse("admin:reservations_slot_change", args=[slot.pk]),
        reverse("admin:reservations_slot_roster", args=[slot.pk]),
        reverse("admin:reservations_menu_change", args=[menu.pk]),
        "/simulator/",
    ):
        response = page.goto(live_server.url + url)
        text = page.inner_text("body")
        assert reservation.code not in text and menu.name not in text, url
        assert response.status in (200, 302, 403, 404), url
