"""The chatbot's daily figures for the reports (registered in municipalities.metrics).

Counted from the outcome the bot records for each question (``chatbot.services.outcomes``: a
MetricEvent with the outcome and its topic), never from the wording of its replies; the open
unanswered questions from the unanswered-question list. All of it belongs to the town as a whole
(no department): the general chat is the town's. Days before the outcomes were recorded have no
chatbot figures when rolled up again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Max
from django.utils.translation import gettext_lazy as _

from chatbot.models import UnansweredQuestion
from chatbot.services.outcomes import SOURCE, Outcome
from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import MetricEvent, Municipality

TOP = 20


def chatbot_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Questions, answered (at once or from the candidates), not understood, hand-offs (per
    department), FAQ and garbage items answered, and the open unanswered questions. Two queries."""
    counts: dict[str, int] = defaultdict(int)
    topics: dict[tuple[str, str], list] = {}
    for kind, topic, label, n in (
        MetricEvent.objects.filter(
            municipality=municipality, source=SOURCE, created_at__gte=start, created_at__lt=end
        )
        .values_list("kind", "topic")
        .annotate(label=Max("label"), n=Count("pk"))
        .values_list("kind", "topic", "label", "n")
        .order_by()
    ):
        counts[kind] += n
        topics[(kind, topic)] = [label, n]
    # Each typed question ends in exactly one of these; a tap on a candidate answers a question
    # that was counted when the candidates were offered.
    questions = counts[Outcome.ANSWERED] + counts[Outcome.SUGGESTED] + counts[Outcome.NOT_UNDERSTOOD]
    rows = [
        MetricRow("questions", questions),
        MetricRow("answered", counts[Outcome.ANSWERED] + counts[Outcome.CHOSEN]),
        MetricRow("suggested", counts[Outcome.SUGGESTED]),
        MetricRow("unanswered", counts[Outcome.NOT_UNDERSTOOD]),
        MetricRow("handoffs", counts[Outcome.HANDED_OFF]),
    ]
    answered: dict[str, list] = {}
    for (kind, topic), (label, n) in topics.items():
        if kind in (Outcome.ANSWERED, Outcome.CHOSEN) and topic.startswith(("item:", "faq:")):
            answered.setdefault(topic, [label, 0])[1] += n
        elif kind == Outcome.HANDED_OFF:
            rows.append(MetricRow("handoffs_by_department", n, None, topic, label))
    for topic, (label, n) in answered.items():
        metric = "garbage_items" if topic.startswith("item:") else "faqs_answered"
        rows.append(MetricRow(metric, n, None, topic, label))
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
                "questions": MetricSpec(_("質問（チャットボットが受けたもの）"), series=True),
                "answered": MetricSpec(_("回答できた質問"), series=True),
                "suggested": MetricSpec(_("候補を示した質問（もしかして）")),
                "unanswered": MetricSpec(_("回答できなかった質問")),
                "handoffs": MetricSpec(_("職員への引き継ぎ")),
                "handoffs_by_department": MetricSpec(_("引き継ぎ先の課"), dimension_label=_("課")),
                "garbage_items": MetricSpec(_("よく聞かれたごみの品目"), dimension_label=_("品目")),
                "faqs_answered": MetricSpec(_("よく回答した FAQ"), dimension_label=_("FAQ")),
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
