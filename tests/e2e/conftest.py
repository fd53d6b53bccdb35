"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium), headless.

No browser is downloaded; everything the pages load is served by the live server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} does not exist")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# How long a test's end waits at most for the server to answer what its pages sent.
ANSWER_SECONDS = 10


class TrackedContext:
    """A browser context that keeps the requests its pages have sent and not yet had answered,
    and closes only once they are (``close_when_answered``)."""

    def __init__(self, browser, **options) -> None:
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(15_000)
        self.in_flight: set[object] = set()
        self.context.on("request", self._sent)
        self.context.on("requestfinished", self._ended)
        self.context.on("requestfailed", self._ended)

    def _sent(self, request: object) -> None:
        self.in_flight.add(request)

    def _ended(self, request: object) -> None:
        self.in_flight.discard(request)

    def close_when_answered(self) -> None:
        """Close once the server has answered every request the pages sent. A request the live
        server still runs when the test's database is flushed holds a table lock the flush waits
        for, and the flush fails. Closing a page may also send one: the 受信設定 page's beacon on
        ``pagehide``, which Playwright does not report. So beacons are turned off first (a test of
        the beacon leaves the page within the test)."""
        from playwright.sync_api import Error

        for open_page in self.context.pages:
            try:
                open_page.evaluate("navigator.sendBeacon = () => true")
            except Error:  # not a page that runs scripts (a download, a closed page)
                pass
        deadline = time.monotonic() + ANSWER_SECONDS
        while self.in_flight and self.context.pages and time.monotonic() < deadline:
            self.context.pages[0].wait_for_timeout(50)  # lets Playwright deliver the request events
        self.context.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    tracked = TrackedContext(
        browser, locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900}
    )
    yield tracked.context.new_page()
    tracked.close_when_answered()


@pytest.fixture
def mobile_page(browser) -> Iterator[object]:
    tracked = TrackedContext(
        browser,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    yield tracked.context.new_page()
    tracked.close_when_answered()


def admin_login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def simulator_follow(page, live_server, username: str, password: str, resident_name: str) -> None:
    """Staff sign in and open the simulator, where a new resident adds the account as a friend;
    returns once the bot's greeting is shown."""
    admin_login(page, live_server, username, password)
    page.goto(f"{live_server.url}/simulator/")
    page.fill("#sim-new-name", resident_name)
    page.click("#sim-follow")
    page.locator(".row.bot .bubble").first.wait_for()


def simulator_say(page, text: str) -> None:
    """The resident types ``text`` in the simulator and presses Enter."""
    page.fill("#composer-text", text)
    page.press("#composer-text", "Enter")
