"""The simulator in Chromium: follow → greeting; text → reply; quick reply → its postback is handled."""

from __future__ import annotations

import time

import pytest

from municipalities.line import dispatch
from municipalities.line import messages as m
from municipalities.models import Municipality
from tests.conftest import PASSWORD
from tests.e2e.conftest import admin_login, simulator_follow, simulator_say

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def e2e_handlers():
    """Test-only handlers: a text handler that offers a quick reply, and its postback handler."""
    saved = (dict(dispatch._postback_handlers), list(dispatch._text_handlers), list(dispatch._text_fallback))
    dispatch._postback_handlers.clear()
    dispatch._text_handlers.clear()
    dispatch._text_fallback.clear()

    def offer(ctx):
        if "予約" not in ctx.text:
            return None
        return [
            m.text(
                "どの健診を予約しますか？",
                quick_reply=[
                    m.quick_reply_item(m.postback_action("特定健診", "e2e:kenshin", display_text="特定健診")),
                    m.quick_reply_item(m.message_action("やめる", "やめる")),
                ],
            )
        ]

    def tapped(ctx):
        return [m.text(f"{ctx.resident.display_name}さん、{ctx.postback_data} を受け付けました。")]

    dispatch.register_text(offer, priority=1)
    dispatch.register_postback("e2e", tapped)
    yield
    dispatch._postback_handlers.clear()
    dispatch._postback_handlers.update(saved[0])
    dispatch._text_handlers[:] = saved[1]
    dispatch._text_fallback[:] = saved[2]


def test_follow_text_and_quick_reply_in_the_simulator(page, live_server, town, town_admin, e2e_handlers):
    # given: staff of みどり町 open the simulator
    admin_login(page, live_server, town_admin.username, PASSWORD)
    page.goto(f"{live_server.url}/simulator/")
    # when: a new resident adds the account as a friend
    page.fill("#sim-new-name", "試験 花子")
    page.click("#sim-follow")
    # then: the greeting appears, with the settings button
    greeting = page.locator(".row.bot .bubble").first
    greeting.wait_for()
    assert "みどり町" in greeting.inner_text()
    assert page.locator(".row.bot [data-kind=template-buttons] button").first.inner_text() == "受信設定"
    assert "試験 花子" in page.locator("#talk-sub").inner_text()

    # when: the resident types a message
    simulator_say(page, "健診を予約したい")
    # then: their bubble and the reply appear, with quick replies
    page.locator(".row.user .bubble", has_text="健診を予約したい").wait_for()
    page.locator(".row.bot .bubble", has_text="どの健診を予約しますか？").wait_for()
    chip = page.locator(".qr", has_text="特定健診")
    chip.wait_for()

    # when: they tap the quick reply
    chip.click()
    # then: the postback is handled and answered; the chips are gone
    page.locator(".row.user .bubble", has_text="特定健診").wait_for()
    page.locator(".row.bot .bubble", has_text="試験 花子さん、e2e:kenshin を受け付けました。").wait_for()
    assert page.locator(".qr").count() == 0


def test_messages_typed_while_a_send_is_under_way_go_out_in_order(
    page, live_server, town, town_admin, e2e_handlers
):
    # given: a resident has just added the account; every send takes a moment (a slow line)
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "試験 次郎")

    def slow(route):
        time.sleep(0.4)
        route.continue_()

    page.route("**/simulator/api/send/", slow)
    # when: three messages are typed one after the other without waiting
    for text in ["一つ目", "二つ目", "三つ目"]:
        simulator_say(page, text)
    # then: the box is free at once, and all three arrive, in the order typed
    assert page.input_value("#composer-text") == ""
    page.locator(".row.user .bubble", has_text="三つ目").wait_for()
    assert [b for b in page.locator(".row.user .bubble").all_inner_texts() if b.endswith("つ目")] == [
        "一つ目",
        "二つ目",
        "三つ目",
    ]


def test_staff_of_another_town_cannot_use_this_towns_simulator(client, town, other_town):
    from municipalities.models import Role
    from tests.conftest import make_staff

    # given: staff of あおば市
    staff = make_staff("aoba_admin", other_town, Role.MUNICIPALITY_ADMIN)
    client.force_login(staff)
    # when / then: みどり町 is neither listed nor reachable
    page = client.get("/simulator/")
    assert "みどり町" not in page.content.decode() and "あおば市" in page.content.decode()
    assert client.get(f"/simulator/api/residents/?municipality={town.pk}").status_code == 404
    response = client.post(
        "/simulator/api/send/",
        data={"municipality": town.pk, "type": "follow"},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_a_link_in_an_answer_is_a_button_that_opens_the_residents_page(page, live_server, town, town_admin):
    # given: staff open the simulator and a resident adds the account
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "予約 次郎")
    # when: the resident asks for their bookings
    simulator_say(page, "予約確認")
    # then: the answer is a card with the text and a button, and no URL to read
    card = page.locator(".row.bot [data-kind=flex]", has_text="これからの予約はありません。")
    card.wait_for()
    assert "予約はこちらから:" in card.inner_text() and "/r/" not in card.inner_text()
    button = card.locator(".flex-button.primary")
    assert button.inner_text() == "予約する"
    # when: they tap the button
    with page.context.expect_page() as opened:
        button.click()
    # then: the booking page opens, signed in as the resident
    booking = opened.value
    booking.wait_for_load_state()
    assert booking.url == f"{live_server.url}/liff/reservations/"


def test_a_liff_button_opens_the_page_signed_in_as_the_simulated_resident(
    page, live_server, town, town_admin
):
    # given: a town with a LIFF app, whose buttons open https://liff.line.me/<LIFF ID>?next=<path>
    Municipality.objects.filter(pk=town.pk).update(liff_id="1234567890-AbCdEfGh")
    simulator_follow(page, live_server, town_admin.username, PASSWORD, "予約 三郎")
    # when: the resident asks for their bookings and taps the button
    simulator_say(page, "予約確認")
    card = page.locator(".row.bot [data-kind=flex]", has_text="これからの予約はありません。")
    card.wait_for()
    with page.context.expect_page() as opened:
        card.locator(".flex-button.primary").click()
    # then: the page opens on this site (not LINE's), signed in as the simulated resident
    booking = opened.value
    booking.wait_for_load_state()
    assert booking.url == f"{live_server.url}/liff/reservations/"
    assert "ログインが必要です" not in booking.content()


def test_an_editor_finds_no_simulator(page, live_server, town, somu_editor):
    # given: an editor of 総務課 in the admin
    admin_login(page, live_server, somu_editor.username, PASSWORD)
    page.locator("#content-main").wait_for()
    # then: no link to the simulator, and its URL is refused
    assert page.locator("#simulator-module").count() == 0
    response = page.goto(f"{live_server.url}/simulator/")
    assert response.status == 403
