"""The daily rollup: exact against the raw rows, Tokyo day boundaries, idempotent."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from applications.services import submission_transition
from broadcasts.models import Broadcast, BroadcastStatus
from municipalities.models import AuditEntry, Resident, Role, WebhookEvent
from reports.errors import ReportError
from reports.models import DailyMetric
from reports.services import daily_metrics_backfill, daily_metrics_rollup, monthly_report_prepare
from reservations.models import Reservation, ReservationStatus
from reservations.services import reservation_book
from richmenus.models import RichMenuTap
from tests.applications.factories import simple_form, submit
from tests.broadcasts.factories import make_broadcast
from tests.conftest import make_staff
from tests.municipalities.factories import resident_in, serial
from tests.reservations.factories import MenuFactory, SlotFactory
from tests.richmenus.factories import make_menu

JST = ZoneInfo("Asia/Tokyo")
DAY = dt.date(2026, 11, 10)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JST)


def webhook(town, event_type: str, when: dt.datetime) -> WebhookEvent:
    number = serial()
    return WebhookEvent.objects.create(
        municipality=town,
        webhook_event_id=f"01REPORTS{number:017d}",
        event_type=event_type,
        line_user_id=f"U{number:032x}",
        occurred_at=when,
        payload={"type": event_type},
        created_at=when,
    )


def figures(town, source: str, **filters) -> dict[tuple[str, str], int]:
    rows = DailyMetric.objects.filter(municipality=town, source=source, **filters)
    return {(r.metric, r.dimension): r.value for r in rows}


def test_follows_and_blocks_are_counted_on_the_tokyo_day(town) -> None:
    # given: events around both midnights of DAY in Japan time (15:00 UTC the day before)
    webhook(town, "follow", at(DAY, 0, 0, 0))
    webhook(town, "follow", at(DAY, 23, 59, 59))
    webhook(town, "unfollow", at(DAY, 12))
    webhook(town, "follow", at(DAY - dt.timedelta(days=1), 23, 59, 59))
    webhook(town, "follow", at(DAY + dt.timedelta(days=1), 0, 0, 0))
    webhook(town, "message", at(DAY, 9))
    assert at(DAY, 0).astimezone(dt.UTC).hour == 15

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then
    got = figures(town, "friends", day=DAY)
    assert (got[("follows", "")], got[("unfollows", "")], got[("net", "")]) == (2, 1, 1)


def test_friends_at_the_end_of_the_day_and_their_settings(town, areas) -> None:
    # given: three friends, one with an area, one who blocked after the day ended, one before
    filled = resident_in(town)
    filled.area = next(iter(areas.values()))
    filled.save(update_fields=["area"])
    later = resident_in(town)
    before = resident_in(town)
    Resident.objects.filter(pk=later.pk).update(
        is_following=False, unfollowed_at=at(DAY + dt.timedelta(days=2), 9)
    )
    Resident.objects.filter(pk=before.pk).update(is_following=False, unfollowed_at=at(DAY, 8))
    Resident.objects.filter(pk__in=[filled.pk, later.pk, before.pk]).update(followed_at=at(DAY, 1))

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then: the one who blocked during DAY is no longer a friend at its end
    got = figures(town, "friends", day=DAY)
    assert got[("friends", "")] == 2
    assert got[("with_settings", "")] == 1
    assert got[("by_area", str(filled.area_id))] == 1


def test_reservations_exact_line_and_proxy_bookings_cancellations_and_no_shows(town, kenko) -> None:
    # given: two bookings on LINE and one by phone (代理予約) made on DAY, one cancelled on DAY
    head = make_staff("rpt_head", town, Role.HEAD, kenko)
    menu = MenuFactory(department=kenko, name="乳幼児歯科健診")
    slot = SlotFactory(menu=menu, capacity=10)
    line = [reservation_book(slot=slot, resident=resident_in(town)) for _ in range(2)]
    proxy = reservation_book(
        slot=slot, actor=head, name="山田 太郎", kana="ヤマダ タロウ", phone="0312345678"
    )
    Reservation.objects.filter(pk__in=[r.pk for r in [*line, proxy]]).update(created_at=at(DAY, 10))
    Reservation.objects.filter(pk=line[0].pk).update(
        status=ReservationStatus.CANCELLED, cancelled_at=at(DAY, 23, 59)
    )
    # and a booking made the next day, which does not count
    late = reservation_book(slot=slot, resident=resident_in(town))
    Reservation.objects.filter(pk=late.pk).update(created_at=at(DAY + dt.timedelta(days=1), 0, 0, 1))

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then
    got = figures(town, "reservations", day=DAY, department=kenko)
    assert got[("booked_line", "")] == 2
    assert got[("booked_proxy", "")] == 1
    assert got[("bookings_by_menu", str(menu.pk))] == 3
    assert got[("bookings_by_venue", f"{menu.pk}:{slot.venue}")] == 3
    assert got[("cancellations", "")] == 1


def test_broadcasts_per_broadcast_and_category(town, kenko) -> None:
    # given: one broadcast that started on DAY with its delivery figures
    broadcast = make_broadcast(kenko, title="健診のお知らせ")
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SENT,
        started_at=at(DAY, 18),
        recipient_count=120,
        delivered_count=118,
        failed_count=2,
        unfollow_count=3,
    )

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then
    got = figures(town, "broadcasts", day=DAY, department=kenko)
    assert got[("broadcast_delivered", str(broadcast.pk))] == 118
    assert got[("category_unfollows", str(broadcast.category_id))] == 3
    assert (got[("recipients", "")], got[("failed", "")], got[("broadcasts", "")]) == (120, 2, 1)


def test_applications_submissions_completion_hours_and_corrections(town, kenko) -> None:
    # given: two submissions on DAY; one completed 6 hours later; a correction requested for the other
    head = make_staff("rpt_head2", town, Role.HEAD, kenko)
    form = simple_form(kenko)
    done, fix = submit(form, resident_in(town)), submit(form, resident_in(town))
    type(done).objects.filter(pk__in=[done.pk, fix.pk]).update(submitted_at=at(DAY, 9))
    type(done).objects.filter(pk=done.pk).update(completed_at=at(DAY, 15, 30), status="completed")
    submission_transition(submission=fix, name="request_correction", actor=head, reason="住所の記入漏れ")
    AuditEntry.objects.filter(action="applications.submission.request_correction").update(
        created_at=at(DAY, 11)
    )

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then
    got = figures(town, "applications", day=DAY, department=kenko)
    assert got[("submitted", "")] == 2
    assert got[("submissions_by_form", str(form.pk))] == 2
    assert got[("completed", "")] == 1
    assert got[("completion_hours", "6")] == 1
    assert got[("corrections", "")] == 1


def test_rollup_twice_writes_the_same_rows(town, kenko) -> None:
    # given
    webhook(town, "follow", at(DAY, 9))
    slot = SlotFactory(menu=MenuFactory(department=kenko))
    booking = reservation_book(slot=slot, resident=resident_in(town))
    Reservation.objects.filter(pk=booking.pk).update(created_at=at(DAY, 10))

    def snapshot() -> list[tuple]:
        return sorted(
            DailyMetric.objects.filter(municipality=town, day=DAY).values_list(
                "source", "metric", "department_id", "dimension", "label", "value"
            )
        )

    # when
    first_count = daily_metrics_rollup(municipality=town, day=DAY)
    first = snapshot()
    second_count = daily_metrics_rollup(municipality=town, day=DAY)

    # then
    assert first_count == second_count == len(first) > 0
    assert snapshot() == first


def test_a_day_that_has_not_started_is_refused(town) -> None:
    with pytest.raises(ReportError):
        daily_metrics_rollup(municipality=town, day=timezone.localdate() + dt.timedelta(days=1))


def test_backfill_rolls_up_each_day_and_refuses_a_reversed_range(town) -> None:
    # when
    days = daily_metrics_backfill(municipality=town, since=DAY, until=DAY + dt.timedelta(days=2))

    # then
    assert days == 3
    assert set(DailyMetric.objects.filter(municipality=town).values_list("day", flat=True)) == {
        DAY,
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=2),
    }
    with pytest.raises(ReportError):
        daily_metrics_backfill(municipality=town, since=DAY, until=DAY - dt.timedelta(days=1))


def test_backfill_command(town, capsys) -> None:
    # when: a 和暦 date works as well as ISO
    call_command("reports_backfill", town.slug, "--since", "令和8年11月10日", "--until", "2026-11-11")

    # then
    assert "2 日分" in capsys.readouterr().out
    with pytest.raises(CommandError, match="見つかりません"):
        call_command("reports_backfill", "nowhere", "--since", "2026-11-10")
    with pytest.raises(CommandError, match="日付"):
        call_command("reports_backfill", town.slug, "--since", "きのう")


def test_monthly_prepare_rolls_up_the_month_and_records_it(town) -> None:
    # when
    days = monthly_report_prepare(municipality=town, month=dt.date(2026, 10, 1))

    # then
    assert days == 31
    assert DailyMetric.objects.filter(municipality=town, day=dt.date(2026, 10, 31)).exists()
    entry = AuditEntry.objects.get(action="reports.monthly.prepared")
    assert entry.municipality_id == town.pk
    assert entry.data == {"month": "2026-10", "days": 31}


def test_rich_menu_taps_per_tile(town) -> None:
    # given: the day's tap counters of two tiles, and a tap of the next day
    menu = make_menu(town, name="通常メニュー")
    first, second = list(menu.tiles.order_by("position"))[:2]
    RichMenuTap.objects.create(menu=menu, tile=first, day=DAY, count=5)
    RichMenuTap.objects.create(menu=menu, tile=second, day=DAY, count=2)
    RichMenuTap.objects.create(menu=menu, tile=first, day=DAY + dt.timedelta(days=1), count=9)

    # when
    daily_metrics_rollup(municipality=town, day=DAY)

    # then
    got = figures(town, "richmenu", day=DAY)
    assert got[("taps", "")] == 7
    assert got[("taps_by_tile", str(first.pk))] == 5
