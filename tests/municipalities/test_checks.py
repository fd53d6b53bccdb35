"""System checks: a deployment that LINE would refuse does not start quietly."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import models
from django.test.utils import isolate_apps

from municipalities.checks import (
    municipality_key_errors,
    municipality_owned_check,
    site_url_check,
    webhook_lanes_check,
)
from municipalities.models import Municipality, MunicipalityOwned


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


def test_every_municipality_owned_model_declares_its_tenant_key():
    assert municipality_owned_check() == []


@isolate_apps("municipalities")
def test_a_municipality_owned_model_without_a_protected_not_null_key_is_an_error():
    # given: one model without the key, one whose key cascades and may be empty
    class NoKey(MunicipalityOwned):
        class Meta:
            app_label = "municipalities"

    class LooseKey(MunicipalityOwned):
        municipality = models.ForeignKey(
            Municipality, on_delete=models.CASCADE, null=True, related_name="loose_keys"
        )

        class Meta:
            app_label = "municipalities"

    # when
    errors = municipality_key_errors([NoKey, LooseKey])
    # then
    assert [(e.id, e.obj) for e in errors] == [
        ("municipalities.E003", NoKey),
        ("municipalities.E003", LooseKey),
    ]
