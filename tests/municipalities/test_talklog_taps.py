"""The talk page shows a resident's tap as the words of the button they tapped."""

from __future__ import annotations

from municipalities.line import messages as m
from municipalities.line.talklog import talk_log_inbound, talk_log_outbound, tap_labels
from municipalities.models import TalkMessage


def test_a_tap_reads_as_the_button_words_and_an_unknown_one_hides_its_code(town, resident):
    # given the bot offered quick replies and the resident tapped one, then an old button
    talk_log_outbound(
        municipality=town,
        line_user_ids=[resident.line_user_id],
        messages=[
            m.text(
                "受信設定",
                quick_reply=[
                    m.quick_reply_item(m.postback_action("子育て", "bc:t:3", display_text="子育てを受け取る"))
                ],
            )
        ],
    )
    tap = talk_log_inbound(resident=resident, kind="postback", text="bc:t:3", payload={"data": "bc:t:3"})
    old = talk_log_inbound(resident=resident, kind="postback", text="bc:t:9", payload={"data": "bc:t:9"})
    # when the talk page reads them
    labels = tap_labels(list(TalkMessage.objects.filter(resident=resident).order_by("created_at", "pk")))
    # then the tap shows what was tapped; no internal code is shown
    assert labels[tap.pk] == "「子育てを受け取る」を押しました"
    assert labels[old.pk] == "（ボタンを押しました）"
