"""The town's monthly message budget: what counts (push, multicast, broadcast per recipient; not
replies, not last month), and the warning staff see before composing past it."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from municipalities.line import messages as m
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.quota import budget_check, used_this_month
from municipalities.models import SimulatedDelivery


def test_pushes_count_per_recipient_and_replies_and_last_month_do_not(town, resident, other_resident):
    client = get_line_client(town)
    client.push(resident.line_user_id, [m.text("a")], retry_key=retry_key_for("q", 1))
    client.multicast(
        [resident.line_user_id, other_resident.line_user_id], [m.text("b")], retry_key=retry_key_for("q", 2)
    )
    last_month = timezone.localtime().replace(day=1) - dt.timedelta(days=2)
    SimulatedDelivery.objects.create(
        municipality=town, endpoint="push", line_user_id="Uold", messages=[], created_at=last_month
    )
    SimulatedDelivery.objects.create(municipality=town, endpoint="reply", line_user_id="Ur", messages=[])
    assert used_this_month(town) == 3


def test_budget_check_warns_only_past_the_budget(town, resident):
    get_line_client(town).push(resident.line_user_id, [m.text("a")], retry_key=retry_key_for("q", 3))
    assert budget_check(town, adding=10_000).warning() == ""  # no budget set
    town.monthly_push_budget = 5
    assert budget_check(town, adding=4).warning() == ""
    warning = budget_check(town, adding=5).warning()
    assert "今月の送信数 1 通 + この配信 5 通で、月間の上限 5 通を超えます" in warning


def test_recipient_count_shows_the_budget_warning(client, town, kenko, kenko_editor, resident):
    town.monthly_push_budget = 1
    town.save(update_fields=["monthly_push_budget"])
    get_line_client(town).push(resident.line_user_id, [m.text("a")], retry_key=retry_key_for("q", 4))
    client.force_login(kenko_editor, backend="municipalities.auth.RoleBackend")
    url = reverse("admin:broadcasts_broadcast_recipient_count")
    answer = client.get(url, {"department": kenko.pk, "is_emergency": "1"}).json()
    assert answer["count"] == 1
    assert "月間の上限 1 通を超えます" in answer["warning"] and answer["warning"] in answer["label"]


def test_town_page_shows_this_months_count_against_the_budget(client, town, town_admin, resident):
    town.monthly_push_budget = 5000
    town.save(update_fields=["monthly_push_budget"])
    get_line_client(town).push(resident.line_user_id, [m.text("a")], retry_key=retry_key_for("q", 5))
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    page = client.get(reverse("admin:municipalities_municipality_change", args=[town.pk])).content.decode()
    assert "今月の送信数" in page and "1 通 / 上限 5,000 通" in page
