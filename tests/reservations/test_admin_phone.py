"""代理予約 around the call: the week calendar with weekdays and free places, the questions at once."""

import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reservations.models import Menu, Reservation
from tests.reservations.factories import MenuFactory, SlotFactory
from tests.reservations.test_admin import BACKEND, staff_client  # noqa: F401 - fixture


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def test_menu_page_shows_the_week_with_weekdays_free_places_and_the_questions(staff_client, kenko):  # noqa: F811
    # given: a menu with a question and slots on a Monday and a Wednesday of next week
    menu = MenuFactory(department=kenko, name="集団健診", questions="*お子さんの月齢: 1歳6か月/3歳\n連絡事項")
    monday = timezone.localdate() + dt.timedelta(days=7 - timezone.localdate().weekday())
    a = SlotFactory(menu=menu, starts_at=_at(monday, 9), capacity=3)
    full = SlotFactory(menu=menu, starts_at=_at(monday + dt.timedelta(days=2), 10), capacity=0)
    url = reverse("admin:reservations_slot_phone_booking")
    # when: the menu is picked (no slot chosen yet)
    html = staff_client.get(url, {"menu": menu.pk}).content.decode()
    # then: the week of the first free place, each day with its weekday; the questions are there at once
    assert f"{monday.month}/{monday.day}（月）" in html and "（水）" in html
    assert f'value="{a.pk}"' in html and "残3" in html
    # a full slot can still be chosen, to put the caller on its waitlist
    assert f'value="{full.pk}" data-full' in html and "満席（キャンセル待ちできます）" in html
    assert "お子さんの月齢" in html and "連絡事項" in html and 'id="caller-q"' in html
    # and the question's choice starts empty
    assert '<option value="" selected>―</option>' in html or '<option value="">―</option>' in html


def test_menu_picker_lists_only_menus_the_clerk_may_book(staff_client, kenko, somu):  # noqa: F811
    mine = MenuFactory(department=kenko, name="乳幼児歯科健診")
    theirs = MenuFactory(department=somu, name="住民相談")
    html = staff_client.get(reverse("admin:reservations_slot_phone_booking")).content.decode()
    assert mine.name in html and theirs.name not in html
    # another department's menu by id shows the picker again, never its slots
    other = staff_client.get(reverse("admin:reservations_slot_phone_booking"), {"menu": theirs.pk})
    assert 'id="phone-booking"' not in other.content.decode()


def test_answers_are_normalised_by_their_kind(staff_client, kenko):  # noqa: F811
    menu = MenuFactory(department=kenko, questions="*お名前（ふりがな）")
    slot = SlotFactory(menu=menu)
    url = reverse("admin:reservations_slot_phone_booking")
    page = staff_client.post(
        url, {"menu": menu.pk, "slot": slot.pk, "name": "鈴木", "phone": "0311112222", "q0": "3歳"}
    )
    assert page.status_code == 200 and "カタカナ" in page.content.decode()
    staff_client.post(
        url, {"menu": menu.pk, "slot": slot.pk, "name": "鈴木", "phone": "0311112222", "q0": "すずき"}
    )
    assert Reservation.objects.get(slot=slot).answers == {"お名前(ふりがな)": "スズキ"}


def test_menu_age_rule_is_typed_as_staff_say_it(kenko, kenko_head):
    # given
    menu = MenuFactory(department=kenko, name="乳幼児歯科健診")
    client = Client()
    client.force_login(kenko_head, backend=BACKEND)
    url = reverse("admin:reservations_menu_change", args=[menu.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        {"department": kenko.pk, "eligible_age_from_months": "１歳６か月", "eligible_age_until_months": "2歳"}
    )
    # when
    response = client.post(url, data)
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    menu.refresh_from_db()
    assert (menu.eligible_age_from_months, menu.eligible_age_until_months) == (18, 24)
    assert "1歳6か月" in client.get(url).content.decode()
    data.update({"eligible_age_from_months": "3歳", "eligible_age_until_months": "2歳"})
    assert "より上の年齢" in client.post(url, data).content.decode()
    assert Menu.objects.get(pk=menu.pk).eligible_age_from_months == 18
