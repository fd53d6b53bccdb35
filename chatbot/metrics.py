"""The chatbot's daily figures for the reports (registered in municipalities.metrics).

Read from the talk log (the messages residents typed and the bot's answers, kept for the town's
retention period; the nightly rollup runs well inside it), the staff hand-offs (StaffReply) and
the unanswered-question list. All of it belongs to the town as a whole (no department): the
general chat is the town's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from django.utils.translation import gettext_lazy as _

from chatbot.models import StaffReply, UnansweredQuestion
from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import Municipality, TalkMessage

# Keep in sync with line_handlers._match_answer and _entries_reply: the beginning of the answer
# to a question the bot could not answer, and the line naming a garbage item's category.
UNANSWERED_PREFIX = "ごめんなさい、「"
UNANSWERED_MARK = "」にはまだお答えできません"
ITEM_LINE = re.compile(r"^「(?P<name>.+?)」は【(?P<label>.+?)】です。$", re.MULTILINE)
TOP = 20


def chatbot_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Questions typed, not answered, hand-offs, garbage items asked, open unanswered questions."""
    day = TalkMessage.objects.filter(municipality=municipality, created_at__gte=start, created_at__lt=end)
    questions = day.filter(direction=TalkMessage.Direction.INBOUND, kind="text").count()
    unanswered = day.filter(
        direction=TalkMessage.Direction.OUTBOUND,
        department__isnull=True,
        text__startswith=UNANSWERED_PREFIX,
        text__contains=UNANSWERED_MARK,
    ).count()
    handoffs = (
        StaffReply.objects.filter(municipality=municipality, sent_at__gte=start, sent_at__lt=end)
        .values("resident_id")
        .distinct()
        .count()
    )
    rows = [
        MetricRow("questions", questions),
        MetricRow("unanswered", unanswered),
        MetricRow("answered", max(0, questions - unanswered)),
        MetricRow("handoffs", handoffs),
    ]
    items: Counter[str] = Counter()
    replies = day.filter(
        direction=TalkMessage.Direction.OUTBOUND, department__isnull=True, text__contains="」は【"
    ).values_list("text", flat=True)
    for text in replies.iterator(chunk_size=2000):
        for match in ITEM_LINE.finditer(text):
            items[match["name"]] += 1
    rows += [MetricRow("garbage_items", n, None, name[:100], name) for name, n in items.most_common()]
    open_questions = (
        UnansweredQuestion.objects.filter(municipality=municipality, status=UnansweredQuestion.Status.OPEN)
        .order_by("-count", "-last_asked_at")
        .values_list("pk", "text", "count")[:TOP]
    )
    rows += [MetricRow("open_unanswered", n, None, str(pk), text) for pk, text, n in open_questions]
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="chatbot",
            label=str(_("チャットボット")),
            rollup=chatbot_rollup,
            town_wide=True,
            metrics={
                "questions": MetricSpec(_("質問（住民が送った文字）"), series=True),
                "answered": MetricSpec(_("回答できた質問"), series=True),
                "unanswered": MetricSpec(_("回答できなかった質問")),
                "handoffs": MetricSpec(_("職員への引き継ぎ（有人対応した住民）"), unit="人"),
                "garbage_items": MetricSpec(_("よく聞かれたごみの品目"), dimension_label=_("品目")),
                "open_unanswered": MetricSpec(
                    _("答えられなかった質問（未対応・回数順、期間末）"),
                    snapshot=True,
                    unit="回",
                    dimension_label=_("質問"),
                    link="admin:chatbot_unansweredquestion_resolve",
                ),
            },
            ratios=(Ratio(_("回答率"), "answered", ("questions",)),),
            saves={"answered": "phone_enquiry"},
        )
    )
