"""The resident's キャンセル待ち for a whole day: one tap from a full day, or a short page when
they must say for whom or answer the menu's questions; the line and 「予約確認」 show it."""

import pytest
from django.urls import reverse

from municipalities.line.dispatch import InboundContext
from reservations.line_handlers import upcoming_messages
from reservations.models import WaitlistEntry, WaitlistStatus
from reservations.services import reservation_book, reservation_cancel
from tests.conftest import resident_client as signed_in
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_services_household import checkup, child  # noqa: F401 - fixture


def _fill_day(menu, town, days=4, hours=(9, 10)):
    slots = [SlotFactory(menu=menu, starts_at=in_days(days, h), capacity=1) for h in hours]
    holders = [reservation_book(slot=s, resident=resident_in(town)) for s in slots]
    return slots, holders


def test_a_full_day_joins_its_waitlist_in_one_tap(kenko, town, resident):
    # given: every slot of the day is full
    menu = MenuFactory(department=kenko)
    slots, holders = _fill_day(menu, town)
    day = in_days(4).date().isoformat()
    client = signed_in(resident)
    html = client.get(reverse("reservations:day", args=[menu.pk, day])).content.decode()
    assert html.count('id="waitlist-day"') == 1 and f'data-waitlist-day="{day}"' in html
    # when: the one tap
    page = client.post(reverse("reservations:waitlist_join_day", args=[menu.pk, day]))
    # then
    entry = WaitlistEntry.objects.get(resident=resident)
    assert entry.whole_day and page["Location"] == reverse("reservations:waitlist", args=[entry.pk])
    shown = client.get(page["Location"]).content.decode()
    assert "1 番目" in shown and "のどの時間でも" in shown
    assert "のどの時間でも" in client.get(reverse("reservations:my_list")).content.decode()
    # and a cancellation in the second slot brings the offer for that time
    reservation_cancel(reservation=holders[1])
    html = client.get(reverse("reservations:waitlist", args=[entry.pk])).content.decode()
    assert 'id="accept"' in html and "10:00" in html
    client.post(reverse("reservations:waitlist", args=[entry.pk]), {"accept": "1"})
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED and entry.reservation.slot == slots[1]


def test_a_day_with_room_offers_no_day_waitlist(kenko, town, resident):
    menu = MenuFactory(department=kenko)
    _fill_day(menu, town)
    SlotFactory(menu=menu, starts_at=in_days(4, 11), capacity=2)
    day = in_days(4).date().isoformat()
    client = signed_in(resident)
    assert (
        'id="waitlist-day"'
        not in client.get(reverse("reservations:day", args=[menu.pk, day])).content.decode()
    )
    page = client.post(reverse("reservations:waitlist_join_day", args=[menu.pk, day]))
    assert page.status_code == 409 and "空いている枠があります" in page.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_the_page_asks_for_whom_and_the_required_answers_first(checkup, town, resident):  # noqa: F811
    # given: 乳幼児歯科健診 with a required question, a full day, two children (one eligible)
    on = in_days(4).date()
    for hour in (9, 10):
        parent = resident_in(town)
        slot = SlotFactory(menu=checkup, starts_at=in_days(4, hour), capacity=1)
        reservation_book(slot=slot, resident=parent, member=child(parent, on, 19))
    checkup.questions = "*連絡事項"
    checkup.save(update_fields=["questions"])
    kid = child(resident, on, 20)
    child(resident, on, 40, name="山田 そら")
    client = signed_in(resident)
    url = reverse("reservations:waitlist_join_day", args=[checkup.pk, on.isoformat()])
    # when: the one tap from the day page
    page = client.post(url)
    # then: the short page asks, with the too-old child shown with the reason
    html = page.content.decode()
    assert page.status_code == 200 and 'id="waitlist-day-form"' in html and "過ぎています" in html
    assert not WaitlistEntry.objects.exists()
    # a missing answer is said next to the form
    page = client.post(url, {"answered": "1", "person": str(kid.pk), "q0": ""})
    assert page.status_code == 409 and not WaitlistEntry.objects.exists()
    page = client.post(url, {"answered": "1", "person": str(kid.pk), "q0": "アレルギーあり"})
    entry = WaitlistEntry.objects.get(resident=resident)
    assert entry.member == kid and entry.whole_day and entry.answers == {"連絡事項": "アレルギーあり"}


def test_chat_answer_lists_the_whole_day_entry(kenko, town, resident):
    menu = MenuFactory(department=kenko, name="集団健診")
    _fill_day(menu, town)
    signed_in(resident).post(
        reverse("reservations:waitlist_join_day", args=[menu.pk, in_days(4).date().isoformat()])
    )
    ctx = InboundContext(municipality=resident.municipality, resident=resident, event={})
    text = str(upcoming_messages(ctx))
    assert "集団健診" in text and "のどの時間でも 1 番目" in text


@pytest.mark.parametrize("bad_day", ["2026-13-40", "x"])
def test_a_bad_day_is_404(kenko, resident, bad_day):
    menu = MenuFactory(department=kenko)
    assert (
        signed_in(resident)
        .post(reverse("reservations:waitlist_join_day", args=[menu.pk, bad_day]))
        .status_code
        == 404
    )
