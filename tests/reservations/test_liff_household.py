"""Resident pages: 家族の登録, booking for a member, キャンセル待ち, and the defects of the booking pages."""

import pytest
from django.urls import reverse

from municipalities.models import HouseholdMember
from municipalities.services import household_member_save
from reservations.models import Reservation, ReservationStatus, WaitlistEntry, WaitlistStatus
from reservations.services import availability_bump, reservation_book, reservation_cancel
from tests.conftest import resident_client as signed_in
from tests.municipalities.factories import resident_in
from tests.reservations.factories import MenuFactory, SlotFactory, in_days
from tests.reservations.test_services_household import born_months_before


@pytest.fixture
def checkup(kenko):
    return MenuFactory(
        department=kenko, name="乳幼児歯科健診", eligible_age_from_months=18, eligible_age_until_months=24
    )


def test_family_page_registers_a_child_and_shows_errors_next_to_fields(resident):
    client = signed_in(resident)
    url = reverse("reservations:family")
    # when: a bad birth date and kana
    page = client.post(
        url,
        {"name": "山田 はると", "kana": "1歳6か月", "birth_date": "平成40年1月1日", "relationship": "child"},
    )
    # then: both fields say why, the input is kept
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="kana-error"' in html and 'id="birth-error"' in html and 'value="山田 はると"' in html
    # when: corrected, in 和暦 with full-width digits
    page = client.post(
        url,
        {
            "name": "山田 はると",
            "kana": "やまだ はると",
            "birth_date": "令和６年５月１０日",
            "relationship": "child",
        },
    )
    assert page.status_code == 302
    member = HouseholdMember.objects.get(resident=resident)
    assert member.kana == "ヤマダ ハルト"
    assert "令和6年5月10日生まれ" in client.get(url).content.decode()


def test_family_page_cannot_touch_another_residents_member(resident, other_resident):
    theirs = household_member_save(
        resident=other_resident,
        name="佐藤 花",
        kana="サトウハナ",
        birth_date="2020/1/1",
        relationship="child",
    )
    client = signed_in(resident)
    assert client.post(reverse("reservations:family_remove", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("reservations:family") + f"?edit={theirs.pk}").status_code == 404


def test_confirm_page_offers_only_eligible_people_with_the_reason(checkup, resident):
    # given: one child of the right age, one too young
    day = in_days(5).date()
    ok = household_member_save(
        resident=resident,
        name="山田 一",
        kana="ヤマダイチ",
        birth_date=born_months_before(day, 20),
        relationship="child",
    )
    household_member_save(
        resident=resident,
        name="山田 二",
        kana="ヤマダニ",
        birth_date=born_months_before(day, 6),
        relationship="child",
    )
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    client = signed_in(resident)
    url = reverse("reservations:confirm", args=[slot.pk])
    # when
    html = client.get(url).content.decode()
    # then
    assert f'value="{ok.pk}"  checked' in html or f'value="{ok.pk}" checked' in html
    assert "対象（1歳6か月〜2歳未満）に達していません" in html
    assert "1歳6か月〜2歳未満" in html
    # when: booked with the default choice (one eligible child): one tap
    page = client.post(url, {})
    # then
    reservation = Reservation.objects.get(slot=slot)
    assert page.status_code == 302 and reservation.member == ok
    assert "山田 一" in client.get(page["Location"]).content.decode()


def test_crafted_post_for_an_ineligible_member_is_refused(checkup, resident):
    day = in_days(5).date()
    young = household_member_save(
        resident=resident,
        name="山田 二",
        kana="ヤマダニ",
        birth_date=born_months_before(day, 6),
        relationship="child",
    )
    slot = SlotFactory(menu=checkup, starts_at=in_days(5))
    page = signed_in(resident).post(
        reverse("reservations:confirm", args=[slot.pk]), {"person": str(young.pk)}
    )
    assert page.status_code == 409 and not Reservation.objects.exists()


def test_age_rule_without_members_points_to_the_family_page(checkup, resident):
    slot = SlotFactory(menu=checkup)
    html = signed_in(resident).get(reverse("reservations:confirm", args=[slot.pk])).content.decode()
    assert "家族の登録" in html and 'id="add-member"' in html and 'id="book"' not in html


def test_required_choice_starts_empty(kenko, resident):
    # defect 1: 「お子さんの月齢（必須）」 was pre-filled with its first choice
    menu = MenuFactory(department=kenko, questions="*お子さんの月齢: 1歳6か月/3歳")
    slot = SlotFactory(menu=menu)
    client = signed_in(resident)
    html = client.get(reverse("reservations:confirm", args=[slot.pk])).content.decode()
    assert '<option value="">選んでください</option>' in html
    page = client.post(reverse("reservations:confirm", args=[slot.pk]), {"q0": ""})
    assert page.status_code == 409 and "「お子さんの月齢」に答えてください" in page.content.decode()


def test_kana_question_refuses_an_age(kenko, resident):
    # defect 6: a question labelled (ふりがな) accepted 「1歳6か月」
    menu = MenuFactory(department=kenko, questions="*お子さんのお名前（ふりがな）")
    slot = SlotFactory(menu=menu)
    client = signed_in(resident)
    page = client.post(reverse("reservations:confirm", args=[slot.pk]), {"q0": "1歳6か月"})
    assert page.status_code == 409 and "カタカナ" in page.content.decode()
    assert (
        client.post(reverse("reservations:confirm", args=[slot.pk]), {"q0": "やまだ はると"}).status_code
        == 302
    )
    assert Reservation.objects.get(slot=slot).answers == {"お子さんのお名前(ふりがな)": "ヤマダ ハルト"}


def test_full_slot_joins_the_waitlist_in_one_tap_and_shows_the_position(kenko, town, resident):
    # given
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, starts_at=in_days(4), capacity=1)
    holder = reservation_book(slot=slot, resident=resident_in(town))
    client = signed_in(resident)
    day_html = client.get(
        reverse("reservations:day", args=[menu.pk, in_days(4).date().isoformat()])
    ).content.decode()
    assert f'data-waitlist-slot="{slot.pk}"' in day_html
    # when: the one tap
    page = client.post(reverse("reservations:waitlist_join", args=[slot.pk]))
    # then
    entry = WaitlistEntry.objects.get(slot=slot, resident=resident)
    assert page["Location"] == reverse("reservations:waitlist", args=[entry.pk])
    assert "1 番目" in client.get(page["Location"]).content.decode()
    assert "1 番目" in client.get(reverse("reservations:my_list")).content.decode()
    # when: a cancellation, then the resident opens the offer and accepts
    reservation_cancel(reservation=holder)
    html = client.get(reverse("reservations:waitlist", args=[entry.pk])).content.decode()
    assert 'id="accept"' in html
    page = client.post(reverse("reservations:waitlist", args=[entry.pk]), {"accept": "1"})
    # then
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED and page["Location"].startswith("/liff/reservations/done/")


def test_another_residents_waitlist_entry_is_404(kenko, town, resident, other_resident):
    slot = SlotFactory(menu=MenuFactory(department=kenko), capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    signed_in(other_resident).post(reverse("reservations:waitlist_join", args=[slot.pk]))
    entry = WaitlistEntry.objects.get(resident=other_resident)
    assert signed_in(resident).get(reverse("reservations:waitlist", args=[entry.pk])).status_code == 404


def test_change_uses_the_month_calendar_and_says_what_happened(kenko, resident):
    # defect 2 and 3
    menu = MenuFactory(department=kenko)
    old = SlotFactory(menu=menu, starts_at=in_days(4, 9))
    new = SlotFactory(menu=menu, starts_at=in_days(20, 10))
    reservation = reservation_book(slot=old, resident=resident)
    client = signed_in(resident)
    url = reverse("reservations:my_change", args=[reservation.pk])
    ym = f"{in_days(20):%Y-%m}"
    html = client.get(url + f"?ym={ym}").content.decode()
    assert 'class="cal"' in html and f"{url}?day={in_days(20).date().isoformat()}" in html
    html = client.get(url + f"?day={in_days(20).date().isoformat()}").content.decode()
    assert f'value="{new.pk}"' in html
    page = client.post(url, {"slot": str(new.pk)})
    done = client.get(page["Location"]).content.decode()
    assert (
        "予約を変更しました" in done
        and "予約が確定しました" not in done
        and "ありがとうございます" not in done
    )


def test_cancel_page_shows_the_booking(kenko, resident):
    menu = MenuFactory(department=kenko, name="集団健診")
    reservation = reservation_book(slot=SlotFactory(menu=menu, starts_at=in_days(5)), resident=resident)
    html = signed_in(resident).post(reverse("reservations:my_cancel", args=[reservation.pk])).content.decode()
    assert "予約をキャンセルしました" in html and "集団健診" in html and reservation.code in html
    assert Reservation.objects.get(pk=reservation.pk).status == ReservationStatus.CANCELLED


def test_a_whole_day_full_still_leads_to_its_waitlist(kenko, town, resident):
    # given: the only slot of a day is full
    menu = MenuFactory(department=kenko)
    slot = SlotFactory(menu=menu, starts_at=in_days(6), capacity=1)
    reservation_book(slot=slot, resident=resident_in(town))
    client = signed_in(resident)
    # when
    html = client.get(
        reverse("reservations:calendar", args=[menu.pk]) + f"?ym={in_days(6):%Y-%m}"
    ).content.decode()
    # then: the × day links to its day page, marked 待
    assert f'data-day="{in_days(6).date().isoformat()}" data-waitlist-day' in html
    menu.waitlist_enabled = False
    menu.save(update_fields=["waitlist_enabled"])
    availability_bump(menu.pk)  # the cached month grid follows the menu's version
    html = client.get(
        reverse("reservations:calendar", args=[menu.pk]) + f"?ym={in_days(6):%Y-%m}"
    ).content.decode()
    assert "data-waitlist-day" not in html
