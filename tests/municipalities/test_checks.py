"""System checks: a deployment that LINE would refuse does not start quietly."""

from __future__ import annotations

import pytest
from django.core import checks

from municipalities.checks import site_url_check, webhook_lanes_check


@pytest.mark.parametrize(
    ("backend", "site_url", "debug", "ids"),
    [
        ("api", "", False, ["municipalities.E001"]),
        ("api", "http://cms.example.lg.jp", False, ["municipalities.E001"]),
        ("api", "http://127.0.0.1:8000", True, ["municipalities.W001"]),
        ("api", "https://cms.example.lg.jp", False, []),
        ("simulator", "", False, []),
    ],
)
def test_site_url_must_be_https_with_the_real_line_api(settings, backend, site_url, debug, ids):
    settings.LINE_BACKEND = backend
    settings.LINE_USES_SIMULATOR = backend == "simulator"
    settings.SITE_URL = site_url
    settings.DEBUG = debug
    assert [m.id for m in site_url_check()] == ids
    # registered: `manage.py check` (and migrate, runserver) report it
    assert [m.id for m in checks.run_checks() if m.id.startswith("municipalities.")] == ids


@pytest.mark.parametrize(
    ("lanes", "ids"), [(4, []), (1, []), (0, ["municipalities.E002"]), (-2, ["municipalities.E002"])]
)
def test_webhook_lanes_must_be_a_positive_count(settings, lanes, ids):
    # 0 would make every webhook post fail (the lane is the user id's CRC-32 modulo the count)
    settings.LINE_WEBHOOK_LANES = lanes
    assert [m.id for m in webhook_lanes_check()] == ids
    assert [m.id for m in checks.run_checks() if m.id == "municipalities.E002"] == ids
