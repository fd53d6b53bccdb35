"""Every admin page of the core opens in Chromium under the Content-Security-Policy.

The site sends a CSP without 'unsafe-inline' scripts; an inline script or handler anywhere in
the admin would be blocked and reported on the console. This walks the menu as a 自治体管理者.
"""

from __future__ import annotations

import pytest

from municipalities.models import Role
from tests.conftest import PASSWORD, make_staff
from tests.e2e.conftest import admin_login
from tests.municipalities.factories import resident_in, staff_role_in

pytestmark = pytest.mark.e2e


def test_core_admin_pages_work_under_the_csp(
    page, live_server, transactional_db, town, kenko, areas, interests
):
    # given
    make_staff("joho", town, Role.MUNICIPALITY_ADMIN)
    staff_role_in(kenko)
    resident_in(town)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    admin_login(page, live_server, "joho", PASSWORD)
    links = [
        a.get_attribute("href")
        for a in page.query_selector_all("#content-main .app-municipalities a")
        if (a.get_attribute("href") or "").startswith("/admin/")
    ]
    assert links, "the menu lists the core models"
    # when: every list, add page and first object of the core
    opened = 0
    for href in dict.fromkeys(links):
        response = page.goto(f"{live_server.url}{href}")
        assert response.status == 200, href
        opened += 1
        first = page.query_selector("#result_list tbody tr th a")
        if first is not None:
            response = page.goto(f"{live_server.url}{first.get_attribute('href')}")
            assert response.status == 200
            opened += 1
    # then
    assert opened >= 12
    assert problems == []
