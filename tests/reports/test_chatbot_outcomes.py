"""The chatbot's figures come from the outcome it records for each question (answered, not
understood, handed off, with the topic), not from the wording of its replies."""

from __future__ import annotations

from django.utils import timezone

from chatbot import line_handlers
from chatbot.models import UnansweredQuestion
from chatbot.services import Outcome
from municipalities.models import MetricEvent
from reports.models import DailyMetric
from reports.services import daily_metrics_rollup
from tests.chatbot import conftest as chatbot_fixtures
from tests.chatbot.factories import FaqFactory

# The chatbot's fixtures: its 5374 town, a fresh answer index, and the resident's text and taps
# through the real webhook.
_fresh_index = chatbot_fixtures._fresh_index
kyotango_town = chatbot_fixtures.kyotango_town
say = chatbot_fixtures.say
tap = chatbot_fixtures.tap


def figures(town) -> dict[tuple[str, str], tuple[int, str]]:
    rows = DailyMetric.objects.filter(municipality=town, source="chatbot", day=timezone.localdate())
    return {(r.metric, r.dimension): (r.value, r.label) for r in rows}


def test_each_question_records_one_outcome_with_its_topic(kyotango_town, kenko, resident, say, tap) -> None:
    # given an FAQ of 健康福祉課
    faq = FaqFactory(department=kenko, question="予防接種の持ち物", answer="母子手帳をお持ちください。")

    # when the resident asks a garbage item, the FAQ, something the bot cannot answer, and then
    # asks for staff
    say(kyotango_town, resident, "乾電池")
    say(kyotango_town, resident, "予防接種の持ち物")
    say(kyotango_town, resident, "先月の会議の議事録はどこで読めますか")
    tap(kyotango_town, resident, "cb:staff")
    say(kyotango_town, resident, "職員と話す")  # already handed off: not a second hand-off

    # then one structured event per outcome, with the topic and no resident
    events = list(MetricEvent.objects.filter(municipality=kyotango_town).order_by("pk"))
    assert [e.kind for e in events] == [
        Outcome.ANSWERED,
        Outcome.ANSWERED,
        Outcome.NOT_UNDERSTOOD,
        Outcome.HANDED_OFF,
    ]
    assert events[0].topic.startswith("item:") and events[0].label == "乾電池"
    assert (events[1].topic, events[1].label) == (f"faq:{faq.pk}", "予防接種の持ち物")
    question = UnansweredQuestion.objects.get(municipality=kyotango_town)
    assert events[2].topic == f"unanswered:{question.pk}"
    assert (events[3].topic, events[3].label) == ("department:", "担当課なし")  # the town-wide inbox

    # and the day's figures are counted from them
    daily_metrics_rollup(municipality=kyotango_town, day=timezone.localdate())
    got = figures(kyotango_town)
    assert got[("questions", "")][0] == 3
    assert got[("answered", "")][0] == 2
    assert got[("unanswered", "")][0] == 1
    assert got[("handoffs", "")][0] == 1
    assert got[("handoffs_by_department", "department:")] == (1, "担当課なし")
    assert got[("garbage_items", events[0].topic)] == (1, "乾電池")
    assert got[("faqs_answered", f"faq:{faq.pk}")] == (1, "予防接種の持ち物")
    assert got[("open_unanswered", str(question.pk))][0] == 1


def test_a_candidate_tapped_counts_as_answered_once(kyotango_town, kenko, resident, tap) -> None:
    # given the bot offered the FAQ as a candidate («もしかして»): recorded as suggested
    faq = FaqFactory(department=kenko, question="粗大ごみの申し込み方法", answer="電話で申し込みます。")
    MetricEvent.objects.create(
        municipality=kyotango_town, source="chatbot", kind=Outcome.SUGGESTED, topic=f"faq:{faq.pk}"
    )

    # when the resident taps it
    tap(kyotango_town, resident, f"cb:faq:{faq.pk}")

    # then the question (counted once, when the candidates were offered) is answered
    daily_metrics_rollup(municipality=kyotango_town, day=timezone.localdate())
    got = figures(kyotango_town)
    assert (got[("questions", "")][0], got[("suggested", "")][0], got[("answered", "")][0]) == (1, 1, 1)
    assert got[("faqs_answered", f"faq:{faq.pk}")][0] == 1


def test_a_reply_reworded_does_not_change_the_counts(kyotango_town, resident, say, monkeypatch) -> None:
    # given the apology to an unanswered question is reworded
    real = line_handlers._
    monkeypatch.setattr(
        line_handlers, "_", lambda s: "別の言い回しです。" if s.startswith("ごめんなさい") else real(s)
    )

    # when a question goes unanswered
    say(kyotango_town, resident, "先月の会議の議事録はどこで読めますか")

    # then it is still counted as not understood
    daily_metrics_rollup(municipality=kyotango_town, day=timezone.localdate())
    got = figures(kyotango_town)
    assert (got[("questions", "")][0], got[("unanswered", "")][0]) == (1, 1)
