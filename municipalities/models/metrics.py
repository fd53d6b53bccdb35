"""Countable events that features record for the reports (one row per event, nobody's name)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from municipalities.models.base import MunicipalityOwned, TimeStampedModel
from municipalities.models.tenants import Municipality


class MetricEvent(TimeStampedModel, MunicipalityOwned):
    """One thing that happened, recorded by a feature so that the daily rollup can count it
    without reading the wording of messages: the chatbot answered a question, could not answer
    it, or handed the resident to staff, and on what topic.

    Written once by ``municipalities.metrics.metric_event_record`` and never changed. It holds
    no resident: the reports count events, they do not follow people. ``created_at`` is when it
    happened.
    """

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="metric_events"
    )
    source = models.CharField(_("機能"), max_length=32, help_text=_("記録した機能（chatbot など）。"))
    kind = models.CharField(
        _("結果"), max_length=32, help_text=_("answered（回答）、not_understood（回答できず）など。")
    )
    topic = models.CharField(
        _("話題キー"), max_length=100, blank=True, help_text=_("FAQ やごみ品目など、話題を表す安定したキー。")
    )
    label = models.CharField(_("話題"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("利用記録")
        verbose_name_plural = _("利用記録")
        ordering = ["-created_at"]
        indexes = [
            # The daily rollup of a feature (chatbot.metrics.chatbot_rollup): one town, one
            # source, one Tokyo day.
            models.Index(fields=["municipality", "source", "created_at"], name="muni_metricevent_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}.{self.kind} {self.label}".strip()
