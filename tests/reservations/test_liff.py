import datetime as dt
import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from municipalities import memo
from reservations import liff
from reservations.models import ReservationStatus
from reservations.services import reservation_book
from tests.conftest import resident_client
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days


def test_pages_need_a_signed_in_resident(menu):
    assert Client().get(reverse("reservations:calendar", args=[menu.pk])).status_code == 403


def test_calendar_marks_days_and_updates_after_a_booking(
    menu, resident, town, django_capture_on_commit_callbacks
):
    # given
    slot = SlotFactory(menu=menu, starts_at=in_days(3), capacity=2)
    client = resident_client(resident)
    url = reverse("reservations:calendar", args=[menu.pk]) + f"?ym={in_days(3):%Y-%m}"
    day_link = f'data-day="{in_days(3).date().isoformat()}"'
    # when / then: ○ with room, × once full (the cached grid is invalidated by the booking)
    page = client.get(url).content.decode()
    assert day_link in page and "空きあり" in page
    with django_capture_on_commit_callbacks(execute=True):
        reservation_book(slot=slot, resident=resident_in(town))
    assert "残りわずか" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reservation_book(slot=slot, resident=resident_in(town))
    page = client.get(url).content.decode()
    # full: no longer offered as a day with room, but still leads to its waitlist (待)
    assert f"{day_link} aria-label" not in page and f"{day_link} data-waitlist-day" in page
    assert "満席（キャンセル待ちできます）" in page


def test_calendar_repeat_view_is_a_304_until_availability_changes(
    menu, resident, other_resident, town, django_capture_on_commit_callbacks
):
    # given: a page seen once
    slot = SlotFactory(menu=menu, starts_at=in_days(3), capacity=5)
    url = reverse("reservations:calendar", args=[menu.pk]) + f"?ym={in_days(3):%Y-%m}"
    client = resident_client(resident)
    first = client.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and "private" in first["Cache-Control"]
    # when / then: the same page again is a 304, for another resident of the town too
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    again = resident_client(other_resident).get(url)
    assert again.status_code == 200 and again.content == first.content
    # a booking changes the page: a new ETag and the new symbol
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            reservation_book(slot=slot, resident=resident_in(town))
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "残りわずか" in changed.content.decode()
    # an edit of the menu shows at once (suspended)
    menu.is_suspended = True
    with django_capture_on_commit_callbacks(execute=True):
        menu.save()
    assert "予約の受付を停止しています" in client.get(url).content.decode()


def test_calendar_of_another_town_stays_a_404_when_cached(other_department, resident):
    # given: the page of another town's menu rendered and cached for one of its residents
    foreign = MenuFactory(department=other_department)
    url = reverse("reservations:calendar", args=[foreign.pk]) + f"?ym={in_days(3):%Y-%m}"
    outsider = resident_in(foreign.department.municipality)
    seen = resident_client(outsider).get(url)
    assert seen.status_code == 200
    # when / then: served from the cache or not, it is not found for a resident of this town
    assert resident_client(resident).get(url).status_code == 404
    assert resident_client(resident).get(url, HTTP_IF_NONE_MATCH=seen["ETag"]).status_code == 404


def test_calendar_repeat_view_reads_no_session_while_the_town_is_trusted(menu, resident, monkeypatch):
    # given: the page seen once by a resident (their session read, their town remembered)
    from importlib import import_module

    from django.conf import settings

    from municipalities.line import liff

    SlotFactory(menu=menu, starts_at=in_days(3))
    url = reverse("reservations:calendar", args=[menu.pk]) + f"?ym={in_days(3):%Y-%m}"
    client = resident_client(resident)
    assert client.get(url).status_code == 200
    loads = []
    store = import_module(settings.SESSION_ENGINE).SessionStore
    original = store.load
    monkeypatch.setattr(store, "load", lambda self: loads.append(1) or original(self))
    # when / then: the repeat view reads no session, and still varies with the cookie
    again = client.get(url)
    assert again.status_code == 200 and not loads
    assert "Cookie" in again["Vary"]
    # a made-up session key is no resident; once the trust ran out, the session is read again
    stranger = Client()
    stranger.cookies["sessionid"] = "x" * 32
    assert stranger.get(url).status_code == 403
    loads.clear()
    monkeypatch.setattr(liff, "TOWN_TRUST_SECONDS", 0.0)
    liff._towns.clear()
    client.get(url)  # read, and remembered with no trust left
    client.get(url)
    assert len(loads) == 2


def test_booking_through_the_page(menu, slot, resident):
    client = resident_client(resident)
    response = client.post(reverse("reservations:confirm", args=[slot.pk]))
    assert response.status_code == 302
    assert "予約が確定しました" in client.get(response["Location"]).content.decode()


def test_window_closed_message_with_alternatives(menu, resident):
    menu.closes_hours_before = 24
    menu.save()
    soon = SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=5))
    later = SlotFactory(menu=menu, starts_at=in_days(4))
    page = resident_client(resident).get(reverse("reservations:confirm", args=[soon.pk])).content.decode()
    assert "締め切りました" in page
    assert f'data-alt="{later.pk}"' in page


def test_limit_reached_message(menu, resident):
    a = SlotFactory(menu=menu, starts_at=in_days(3))
    b = SlotFactory(menu=menu, starts_at=in_days(4))
    reservation_book(slot=a, resident=resident)
    response = resident_client(resident).post(reverse("reservations:confirm", args=[b.pk]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "1 人 1 件まで" in page
    # every slot of the menu is refused alike: the page leads to the booking to change or cancel
    assert f'href="{reverse("reservations:my_list")}" id="my-bookings"' in page
    assert "data-alt=" not in page


def test_limit_per_day_offers_slots_of_other_days(menu, resident):
    menu.max_active_per_resident = 5
    menu.save()
    morning = SlotFactory(menu=menu, starts_at=in_days(3, hour=9))
    noon = SlotFactory(menu=menu, starts_at=in_days(3, hour=12))
    afternoon = SlotFactory(menu=menu, starts_at=in_days(3, hour=15))
    next_day = SlotFactory(menu=menu, starts_at=in_days(4, hour=9))
    reservation_book(slot=morning, resident=resident)
    response = resident_client(resident).post(reverse("reservations:confirm", args=[noon.pk]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "同じ日" in page
    # the nearest slot in time (the same afternoon) is refused alike: only other days are offered
    assert f'data-alt="{afternoon.pk}"' not in page
    assert f'data-alt="{next_day.pk}"' in page


def test_another_residents_booking_is_a_404(menu, slot, resident, other_resident):
    r = reservation_book(slot=slot, resident=other_resident)
    client = resident_client(resident)
    assert client.get(reverse("reservations:my_detail", args=[r.pk])).status_code == 404
    assert client.post(reverse("reservations:my_cancel", args=[r.pk])).status_code == 404


def test_another_towns_menu_is_a_404(other_department, resident):
    foreign = MenuFactory(department=other_department)
    assert (
        resident_client(resident).get(reverse("reservations:calendar", args=[foreign.pk])).status_code == 404
    )


def test_change_and_cancel_from_my_reservations(menu, resident):
    a = SlotFactory(menu=menu, starts_at=in_days(3))
    b = SlotFactory(menu=menu, starts_at=in_days(4))
    r = reservation_book(slot=a, resident=resident)
    client = resident_client(resident)
    assert "日時を変更する" in client.get(reverse("reservations:my_detail", args=[r.pk])).content.decode()
    client.post(reverse("reservations:my_change", args=[r.pk]), {"slot": b.pk})
    r.refresh_from_db()
    assert r.slot_id == b.pk
    client.post(reverse("reservations:my_cancel", args=[r.pk]))
    r.refresh_from_db()
    assert r.status == ReservationStatus.CANCELLED


@pytest.mark.parametrize("hours", [5])
def test_deadline_passed_hides_change_and_explains(menu, resident, kenko, hours):
    menu.closes_hours_before = 1
    menu.save()
    r = reservation_book(
        slot=SlotFactory(menu=menu, starts_at=timezone.now() + dt.timedelta(hours=hours)), resident=resident
    )
    page = resident_client(resident).get(reverse("reservations:my_detail", args=[r.pk])).content.decode()
    assert "締切を過ぎました" in page and kenko.name in page
    assert 'id="cancel"' not in page


def test_a_double_tap_lands_on_the_same_booking(menu, slot, resident):
    client = resident_client(resident)
    first = client.post(reverse("reservations:confirm", args=[slot.pk]))
    second = client.post(reverse("reservations:confirm", args=[slot.pk]))
    assert first["Location"] == second["Location"]
    slot.refresh_from_db()
    assert slot.reserved == 1


def test_a_double_tap_that_took_the_last_place_lands_on_the_booking(menu, resident):
    last = SlotFactory(menu=menu, capacity=1)
    client = resident_client(resident)
    first = client.post(reverse("reservations:confirm", args=[last.pk]))
    second = client.post(reverse("reservations:confirm", args=[last.pk]))
    assert first.status_code == 302 and first["Location"] == second["Location"]


def test_a_full_slot_offers_alternatives_that_follow_the_places(
    menu, town, resident, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a full slot, and one with a place left the day after
    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    full = SlotFactory(menu=menu, starts_at=in_days(3), capacity=1)
    near = SlotFactory(menu=menu, starts_at=in_days(4), capacity=1)
    reservation_book(slot=full, resident=resident_in(town))
    client = resident_client(resident)
    url = reverse("reservations:confirm", args=[full.pk])
    # when / then: refused, with the other slot offered
    refused = client.post(url)
    assert refused.status_code == 409 and f'data-alt="{near.pk}"' in refused.content.decode()
    # that one is taken meanwhile: within the second the same are offered without reading them
    # again (in a rush, bookings between the refusals move the places many times a second) …
    with django_capture_on_commit_callbacks(execute=True):
        reservation_book(slot=near, resident=resident_in(town))
    with CaptureQueriesContext(connection) as within_queries:
        within = client.post(url)
    assert f'data-alt="{near.pk}"' in within.content.decode()
    # … and after it, it is offered no more
    clock[0] += liff.ALTERNATIVES_FRESH_SECONDS + 0.01
    with CaptureQueriesContext(connection) as again_queries:
        again = client.post(url)
    assert again.status_code == 409 and f'data-alt="{near.pk}"' not in again.content.decode()
    assert len(within_queries) < len(again_queries)


def test_a_place_taken_meanwhile_is_not_logged_as_a_warning(menu, town, resident, caplog):
    # given: a full slot
    full = SlotFactory(menu=menu, starts_at=in_days(3), capacity=1)
    reservation_book(slot=full, resident=resident_in(town))
    # when: a resident asks for it, and a page that does not exist is asked for
    with caplog.at_level(logging.INFO, logger="django.request"):
        refused = resident_client(resident).post(reverse("reservations:confirm", args=[full.pk]))
        missing = resident_client(resident).get("/liff/reservations/no-such-page/")
    # then: the refusal (an expected answer in a rush) is not logged; the 404 still is
    assert (refused.status_code, missing.status_code) == (409, 404)
    assert [record.status_code for record in caplog.records if record.name == "django.request"] == [404]


def test_a_process_trusts_the_availability_version_for_a_second(menu, monkeypatch):
    # given: the version as this process last read it
    from django.core.cache import cache

    from reservations.services import places

    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    seen = places.availability_version(menu.pk)
    # when another process bumps it, this one keeps its reading for VERSION_FRESH_SECONDS
    cache.set(places.availability_version_key(menu.pk), seen + 5, None)
    assert places.availability_version(menu.pk) == seen
    clock[0] += places.VERSION_FRESH_SECONDS + 0.01
    assert places.availability_version(menu.pk) == seen + 5
    # a bump made here is seen at once
    places.availability_bump(menu.pk)
    assert places.availability_version(menu.pk) == seen + 6
