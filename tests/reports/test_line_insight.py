"""LINE's own figures (Insight) through the LINE gateway: the api backend against the fake LINE
server, the simulator backend from its tables, stored per day by an idempotent nightly task,
rolled up and shown on the dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from municipalities.line import ratelimit
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.insight import InsightFollowers
from municipalities.models import Resident, SimulatedDelivery
from municipalities.services import resident_follow, resident_unfollow
from reports import tasks
from reports.models import DailyMetric, LineInsightDay
from reports.services import daily_metrics_rollup, line_insight_fetch, line_insight_nightly
from tests.conftest import make_town
from tests.fakeline import FakeLine

TODAY = dt.date(2026, 11, 12)
DAY = dt.date(2026, 11, 10)
DEMOGRAPHICS = {
    "available": True,
    "genders": [{"gender": "female", "percentage": 55.0}, {"gender": "male", "percentage": 45.0}],
    "ages": [{"age": "from30to34", "percentage": 40.0}, {"age": "from70", "percentage": 60.0}],
    "areas": [{"area": "徳島", "percentage": 100.0}],
    "appTypes": [{"appType": "ios", "percentage": 50.0}, {"appType": "android", "percentage": 50.0}],
    "subscriptionPeriods": [{"subscriptionPeriod": "over365days", "percentage": 100.0}],
}


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    ratelimit.reset_local()
    with FakeLine() as server:
        yield server


@pytest.fixture
def api(fake, settings, town) -> FakeLine:
    settings.LINE_BACKEND = "api"
    settings.LINE_USES_SIMULATOR = False
    settings.LINE_API_BASE_URL = fake.base_url
    settings.HAS_REDIS = False
    settings.LINE_API_TIMEOUT_SECONDS = 5.0
    return fake


def figures(town, day: dt.date) -> dict[tuple[str, str], int]:
    rows = DailyMetric.objects.filter(municipality=town, source="line_insight", day=day)
    return {(r.metric, r.dimension): r.value for r in rows}


def test_api_backend_fetches_the_day_and_stores_it(api, town) -> None:
    # given LINE has counted the day
    api.insight.followers[DAY] = {"followers": 1200, "targetedReaches": 1000, "blocks": 200}
    api.insight.deliveries[DAY] = {"broadcast": 0, "apiMulticast": 3000, "apiPush": 40, "apiReply": 25}
    api.insight.demographics = DEMOGRAPHICS

    # when
    row = line_insight_fetch(municipality=town, day=DAY, with_demographics=True)

    # then LINE was asked for the Tokyo date with the town's token, and the answers are stored
    requests = api.requests_to("insight_followers") + api.requests_to("insight_delivery")
    assert [r.body["query"] for r in requests] == ["date=20261110", "date=20261110"]
    assert requests[0].headers["Authorization"] == "Bearer midori-token"
    assert (row.followers, row.targeted_reaches, row.blocks) == (1200, 1000, 200)
    assert row.deliveries == {"broadcast": 0, "apiMulticast": 3000, "apiPush": 40, "apiReply": 25}
    assert row.demographics["ages"] == [["from30to34", 40.0], ["from70", 60.0]]

    # and the day's rollup shows them (demographics as friends: % × friends a message reaches)
    daily_metrics_rollup(municipality=town, day=DAY)
    got = figures(town, DAY)
    assert got[("line_followers", "")] == 1200
    assert got[("line_targeted_reaches", "")] == 1000
    assert got[("line_blocks", "")] == 200
    assert got[("line_deliveries", "")] == 3065
    assert got[("line_deliveries_by_kind", "apiMulticast")] == 3000
    assert ("line_deliveries_by_kind", "broadcast") not in got
    assert got[("line_by_age", "from70")] == 600
    assert got[("line_by_gender", "female")] == 550


def test_a_day_line_has_not_counted_is_asked_again_the_next_night(api, town) -> None:
    # given LINE has not counted the last day yet (``unready``), but the two before it
    for n in (2, 3):
        day = TODAY - dt.timedelta(days=n)
        api.insight.followers[day] = {"followers": 10 * n, "targetedReaches": 9 * n, "blocks": n}
        api.insight.deliveries[day] = {"apiPush": n}

    # when the nightly run goes
    stored = line_insight_nightly(municipality=town, today=TODAY)

    # then two days are stored and the last one is not
    assert stored == 2
    assert set(LineInsightDay.objects.values_list("day", flat=True)) == {
        TODAY - dt.timedelta(days=3),
        TODAY - dt.timedelta(days=2),
    }

    # when LINE has counted it and the run goes again
    yesterday = TODAY - dt.timedelta(days=1)
    api.insight.followers[yesterday] = {"followers": 11, "targetedReaches": 10, "blocks": 1}
    api.insight.deliveries[yesterday] = {"apiPush": 1}
    api.insight.demographics = DEMOGRAPHICS
    asked_before = len(api.requests_to("insight_followers"))
    assert line_insight_nightly(municipality=town, today=TODAY) == 1

    # then only the missing day was asked (with the demographics), and a third run asks nothing
    assert len(api.requests_to("insight_followers")) == asked_before + 1
    assert LineInsightDay.objects.get(day=yesterday).demographics["genders"][0] == ["female", 55.0]
    snapshot = list(LineInsightDay.objects.order_by("day").values("day", "followers", "deliveries"))
    assert line_insight_nightly(municipality=town, today=TODAY) == 0
    assert len(api.requests_to("insight_followers")) == asked_before + 1
    assert list(LineInsightDay.objects.order_by("day").values("day", "followers", "deliveries")) == snapshot


def test_a_town_whose_line_fails_does_not_stop_the_others(api, town, other_town) -> None:
    # given LINE answers 500 to the first request (the first town's)
    api.fail("insight_followers", 500)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    api.insight.followers[yesterday] = {"followers": 5, "targetedReaches": 5, "blocks": 0}
    api.insight.deliveries[yesterday] = {"apiReply": 2}

    # when the task runs for every town
    done = tasks.line_insight_nightly_task()

    # then the failed town is skipped (tried again the next night) and the other is stored
    assert done == 1
    assert LineInsightDay.objects.filter(day=yesterday).count() == 1


def test_simulator_counts_friends_blocks_and_sent_messages(town, settings) -> None:
    # given three residents followed, one blocked, and two pushes went out on DAY
    settings.LINE_USES_SIMULATOR = True
    residents = [
        resident_follow(municipality=town, line_user_id=f"U{n:032x}", display_name=f"住民{n}")[0]
        for n in range(3)
    ]
    Resident.objects.filter(pk__in=[r.pk for r in residents]).update(
        followed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    )
    resident_unfollow(municipality=town, line_user_id=residents[0].line_user_id)
    Resident.objects.filter(pk=residents[0].pk).update(unfollowed_at=dt.datetime(2026, 11, 9, tzinfo=dt.UTC))
    client = get_line_client(town)
    for n in range(2):
        client.push(
            residents[1].line_user_id, [{"type": "text", "text": "お知らせ"}], retry_key=retry_key_for("t", n)
        )
    SimulatedDelivery.objects.update(created_at=dt.datetime(2026, 11, 10, 3, tzinfo=dt.UTC))

    # when
    followers = client.insight_followers(DAY)
    deliveries = client.insight_message_deliveries(DAY)

    # then
    assert followers == InsightFollowers(ready=True, followers=3, targeted_reaches=2, blocks=1)
    assert deliveries.counts["apiPush"] == 2
    assert client.insight_followers(timezone.localdate()).ready is False  # today is not over


def test_the_dashboard_shows_lines_figures_to_the_town_admin(town, town_admin, kenko, kenko_head) -> None:
    # given a stored day, rolled up
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    LineInsightDay.objects.create(
        municipality=town,
        day=yesterday,
        followers=1234,
        targeted_reaches=1000,
        blocks=234,
        deliveries={"apiMulticast": 5000},
        demographics={"ages": [["from70", 60.0]]},
        fetched_at=timezone.now(),
    )
    daily_metrics_rollup(municipality=town, day=yesterday)
    url = reverse("admin:reports_dailymetric_dashboard")
    params = {"start": yesterday.isoformat(), "end": yesterday.isoformat()}

    # when 自治体管理者 opens the dashboard
    client = Client()
    client.force_login(town_admin, backend="municipalities.auth.RoleBackend")
    page = client.get(url, params).content.decode()

    # then LINE's figures are there, in a table
    assert "LINE の統計" in page
    assert "友だち追加の累計（LINE 集計）" in page and "1,234人" in page
    assert "70歳以上" in page

    # and a department head sees the section only as a note (the account is the town's)
    head = Client()
    head.force_login(kenko_head, backend="municipalities.auth.RoleBackend")
    page = head.get(url, params).content.decode()
    assert "1,234人" not in page


def test_other_towns_rows_are_not_read(town) -> None:
    other = make_town("kita", "北町")
    LineInsightDay.objects.create(municipality=other, day=DAY, followers=9, fetched_at=timezone.now())
    daily_metrics_rollup(municipality=town, day=DAY)
    assert figures(town, DAY) == {}
