"""「予約確認」 and the rsv: postbacks through the real signed webhook (simulator backend)."""

import itertools

from municipalities.models import Role, SimulatedDelivery, TalkMessage
from municipalities.permissions import policy_for
from municipalities.services import household_member_save
from reservations.services import reservation_book, waitlist_join
from tests.conftest import link_button, make_staff, shown_text
from tests.fakeline import post_webhook, webhook_event
from tests.municipalities.factories import resident_in
from tests.reservations.factories import SlotFactory

_ids = itertools.count()


def _send(client, town, event, capture) -> list[dict]:
    with capture(execute=True):
        response = post_webhook(client, town, event)
    assert response.status_code == 200
    return [m for d in SimulatedDelivery.objects.filter(endpoint="reply").order_by("pk") for m in d.messages]


def test_yoyaku_kakunin_lists_upcoming_bookings(
    client, town, slot, resident, django_capture_on_commit_callbacks
):
    # given
    reservation = reservation_book(slot=slot, resident=resident)
    n = next(_ids)
    event = webhook_event(
        "message", resident.line_user_id, text="予約確認", event_id=f"RSV{n:023d}", reply_token=f"rsv{n}"
    )
    # when
    replies = _send(client, town, event, django_capture_on_commit_callbacks)
    # then
    text = shown_text(replies[-1])
    assert reservation.code in text and slot.menu.name in text
    assert link_button(replies[-1]) == ("予約を見る", "/liff/reservations/my/")


def test_postback_opens_the_menu_quick_replies(
    client, town, menu, resident, django_capture_on_commit_callbacks
):
    n = next(_ids)
    event = webhook_event(
        "postback", resident.line_user_id, data="rsv:menus", event_id=f"RSV{n:023d}", reply_token=f"rsv{n}"
    )
    replies = _send(client, town, event, django_capture_on_commit_callbacks)
    labels = [i["action"]["label"] for i in replies[-1]["quickReply"]["items"]]
    assert menu.name in labels and "予約確認" in labels


def test_yoyaku_kakunin_answer_is_kept_out_of_the_town_wide_talk_log(
    client, town, kenko, somu, slot, resident, django_capture_on_commit_callbacks
):
    # given: a 健康福祉課 booking, and an editor of 総務課 who answers residents in the chat
    reservation = reservation_book(slot=slot, resident=resident)
    somu_editor = make_staff("somu_chat", town, Role.EDITOR, somu)
    n = next(_ids)
    event = webhook_event(
        "message", resident.line_user_id, text="予約確認", event_id=f"RSV{n:023d}", reply_token=f"rsv{n}"
    )
    # when: the resident asks for the list
    replies = _send(client, town, event, django_capture_on_commit_callbacks)
    # then: the resident got the booking; the talk log keeps only that a list was sent
    assert reservation.code in shown_text(replies[-1])
    answer = TalkMessage.objects.filter(resident=resident, direction="out", department=None).latest("pk")
    assert answer.kind == "summary" and "予約確認" in answer.text
    visible = policy_for(TalkMessage).instances_user_has_permission_for(somu_editor, "view")
    shown = " ".join(visible.filter(resident=resident).values_list("text", flat=True))
    assert reservation.code not in shown and slot.menu.name not in shown


def test_yoyaku_kakunin_shows_the_member_and_the_place_in_the_waitlist(
    client, town, menu, resident, django_capture_on_commit_callbacks
):
    # given: a booking for a child, and a place second in line on a full slot
    child = household_member_save(
        resident=resident,
        name="山田 はると",
        kana="ヤマダハルト",
        birth_date="令和6年1月1日",
        relationship="child",
    )
    reservation_book(slot=SlotFactory(menu=menu), resident=resident, member=child)
    full = SlotFactory(menu=menu, capacity=1)
    reservation_book(slot=full, resident=resident_in(town))
    waitlist_join(slot=full, resident=resident_in(town))
    waitlist_join(slot=full, resident=resident)
    n = next(_ids)
    event = webhook_event(
        "message", resident.line_user_id, text="予約確認", event_id=f"RSV{n:023d}", reply_token=f"rsv{n}"
    )
    # when
    text = shown_text(_send(client, town, event, django_capture_on_commit_callbacks)[-1])
    # then
    assert f"■ {menu.name}（山田 はると）" in text
    assert "キャンセル待ち" in text and "2 番目" in text
