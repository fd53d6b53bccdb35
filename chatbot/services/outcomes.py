"""What became of each question the bot was asked, recorded for the reports as a structured
event (the core's MetricEvent), so that the daily figures never depend on the reply's wording."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from municipalities.metrics import metric_event_record
from municipalities.models import Resident

SOURCE = "chatbot"


class Outcome(models.TextChoices):
    # Keep in sync with chatbot.metrics.chatbot_rollup.
    ANSWERED = "answered", _("回答した")  # a typed question answered at once
    SUGGESTED = "suggested", _("候補を示した")  # 「もしかして」: candidates offered
    CHOSEN = "chosen", _("候補から回答した")  # the resident tapped one of the candidates
    NOT_UNDERSTOOD = "not_understood", _("回答できなかった")
    HANDED_OFF = "handed_off", _("職員に引き継いだ")


def chat_outcome_record(*, resident: Resident, outcome: Outcome, topic: str = "", label: str = "") -> None:
    """Record that the bot ``outcome``-ed a question of ``resident``'s town on ``topic``
    (``faq:<id>``, ``item:<id>``, ``collection:<kind>``, ``keyword``, ``unanswered:<id>``,
    ``department:<id>``), shown as ``label`` (the FAQ's question, the item's name, the
    department — never who asked). One INSERT; enqueues nothing. While the webhook worker
    processes the resident's event, the row is written after the reply, with the event's talk
    log (``metrics.metric_event_record``, ``metric_events_deferred``)."""
    metric_event_record(
        municipality_id=resident.municipality_id,
        source=SOURCE,
        kind=outcome.value,
        topic=topic,
        label=label,
    )
