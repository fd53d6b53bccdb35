"""Daily figures (日次集計) and the town's assumptions for the staff-time-saved estimate."""

from __future__ import annotations

from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from municipalities.metrics import PROCEDURES
from municipalities.models import Department, Municipality
from municipalities.models.base import MunicipalityOwned, TimeStampedModel


class DailyMetric(TimeStampedModel, MunicipalityOwned):
    """One figure of one day for a town, written by the nightly rollup (never by staff).

    The feature apps' rollup providers (``municipalities.metrics``) compute each day's figures
    from the raw records once; the dashboard and the monthly report only read these rows, so
    they stay fast however many bookings or webhook events the town has. A row with a
    department is that department's (its staff see it); a row without one is the town's as a
    whole (friends, chatbot) and only 自治体管理者 sees it. Rolling a day up again replaces its
    rows, so the figures are always those of the latest run.
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="daily_metrics"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="daily_metrics",
        null=True,
        blank=True,
        help_text=_("空欄は町全体の数値です（自治体管理者だけが見られます）。"),
    )
    day = models.DateField(_("日付"), help_text=_("日本時間の 0 時から 24 時までの 1 日です。"))
    source = models.CharField(_("分野"), max_length=32, help_text=_("集計した機能（配信、予約など）です。"))
    metric = models.CharField(_("指標"), max_length=64)
    dimension = models.CharField(_("内訳キー"), max_length=100, blank=True)
    label = models.CharField(_("内訳"), max_length=300, blank=True)
    value = models.BigIntegerField(_("値"))

    class Meta:
        verbose_name = _("日次集計")
        verbose_name_plural = _("日次集計")
        # "export": the monthly report's XLSX (閲覧者 and up, like every other export).
        default_permissions = ("add", "change", "delete", "view", "export")
        ordering = ["-day", "source", "metric", "dimension"]
        indexes = [
            # dashboard_data(): a town's rows over a period (and the rollup replacing one day).
            models.Index(fields=["municipality", "day", "source"], name="rpt_metric_town_day_idx"),
        ]
        constraints = [
            # One row per figure: a rollup replaces the day's rows, it never adds a second copy.
            models.UniqueConstraint(
                fields=["municipality", "day", "source", "metric", "department", "dimension"],
                condition=Q(department__isnull=False),
                name="reports_dailymetric_once_per_department",
            ),
            models.UniqueConstraint(
                fields=["municipality", "day", "source", "metric", "dimension"],
                condition=Q(department__isnull=True),
                name="reports_dailymetric_once_per_town",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source}.{self.metric} {self.label}".strip()

    def __repr__(self) -> str:
        return f"<DailyMetric {self.pk} {self.municipality_id}/{self.department_id} {self.day} {self.metric}>"


class MonthlyMetric(TimeStampedModel, MunicipalityOwned):
    """The sum of a month's daily figures (日次集計の月計), kept beside the daily rows so that the
    dashboard of a long period reads one row per month instead of thirty.

    Written only by the daily rollup: after it replaces a day, it recomputes that day's month
    from the daily rows in the same transaction, so the two always agree. Only figures that add
    up (bookings, questions…) are kept here; a state at the end of a day (friends in total) is
    read from its last day. Viewed under the daily rows' permissions (same town and department).
    """

    municipality_path: ClassVar[str] = "municipality"
    department_path: ClassVar[str | None] = "department"

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="monthly_metrics"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("担当課"),
        on_delete=models.PROTECT,
        related_name="monthly_metrics",
        null=True,
        blank=True,
        help_text=_("空欄は町全体の数値です。"),
    )
    month = models.DateField(_("月"), help_text=_("その月の 1 日です。"))
    source = models.CharField(_("分野"), max_length=32)
    metric = models.CharField(_("指標"), max_length=64)
    dimension = models.CharField(_("内訳キー"), max_length=100, blank=True)
    label = models.CharField(_("内訳"), max_length=300, blank=True)
    value = models.BigIntegerField(_("値"))

    class Meta:
        verbose_name = _("月次集計")
        verbose_name_plural = _("月次集計")
        ordering = ["-month", "source", "metric", "dimension"]
        indexes = [
            # dashboard_data(): a town's months over a period (and the rollup replacing one month).
            models.Index(fields=["municipality", "month", "source"], name="rpt_monthly_town_month_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "month", "source", "metric", "department", "dimension"],
                condition=Q(department__isnull=False),
                name="reports_monthlymetric_once_per_department",
            ),
            models.UniqueConstraint(
                fields=["municipality", "month", "source", "metric", "dimension"],
                condition=Q(department__isnull=True),
                name="reports_monthlymetric_once_per_town",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.source}.{self.metric} {self.label}".strip()


class Procedure(models.TextChoices):
    PHONE_BOOKING = "phone_booking", PROCEDURES["phone_booking"].label
    COUNTER_APPLICATION = "counter_application", PROCEDURES["counter_application"].label
    PHONE_ENQUIRY = "phone_enquiry", PROCEDURES["phone_enquiry"].label
    PAPER_NOTICE = "paper_notice", PROCEDURES["paper_notice"].label


class TimeSavingAssumption(TimeStampedModel, MunicipalityOwned):
    """How many minutes one procedure takes staff by hand in this town (業務時間の前提).

    The staff-time-saved estimate multiplies what residents did on LINE (a booking, an
    application, an answered question, a delivered notice) by these minutes. Without a row the
    project's default applies, shown on the dashboard with its source; a town that measured its
    own work records it here, with where the figure comes from. It is an estimate, and the
    dashboard says so.
    """

    # Town-wide figures: 所属長 and 自治体管理者 set them; 編集者 and 閲覧者 read them.
    head_only_actions: ClassVar[frozenset[str]] = frozenset({"add", "change", "delete", "approve"})

    municipality = models.ForeignKey(
        Municipality,
        verbose_name=_("自治体"),
        on_delete=models.PROTECT,
        related_name="time_saving_assumptions",
    )
    procedure = models.CharField(_("手続き"), max_length=32, choices=Procedure.choices)
    minutes = models.DecimalField(
        _("1 件あたりの時間（分）"),
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(600)],
        help_text=_("職員が手作業で 1 件を処理するのにかかる時間です（0〜600 分）。"),
    )
    source = models.CharField(
        _("根拠"),
        max_length=300,
        help_text=_(
            "この時間の出典（例: 2026 年 4 月の窓口業務量調査）。ダッシュボードに数値と並べて表示します。"
        ),
    )

    class Meta:
        verbose_name = _("業務時間の前提")
        verbose_name_plural = _("業務時間の前提")
        ordering = ["municipality_id", "procedure"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "procedure"], name="reports_timesavingassumption_once_per_town"
            ),
            models.CheckConstraint(
                condition=Q(procedure__in=Procedure.values),
                name="reports_timesavingassumption_procedure_valid",
            ),
            models.CheckConstraint(
                condition=Q(minutes__gte=0, minutes__lte=600),
                name="reports_timesavingassumption_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_procedure_display()}: {self.minutes} 分"


class LineInsightDay(TimeStampedModel, MunicipalityOwned):
    """LINE's own figures of the town's account for one day (LINE Insight), fetched through the
    LINE gateway by the nightly task and kept here, because LINE keeps no history of some of them
    (the demographics) and answers only a while back for the others.

    ``followers`` are everyone who ever added the account as LINE counts them, ``targeted_reaches``
    the friends a message can reach, ``blocks`` those who blocked it; ``deliveries`` the messages
    the account sent that day per LINE's kind; ``demographics`` LINE's percentages of the friends
    as they stood when fetched (the day after). A figure LINE had not counted yet stays empty and
    the next night's run fills it; fetching a day again replaces it with LINE's latest answer.
    """

    municipality = models.ForeignKey(
        Municipality, verbose_name=_("自治体"), on_delete=models.PROTECT, related_name="line_insight_days"
    )
    day = models.DateField(_("日付"), help_text=_("日本時間の 1 日です（LINE の集計日）。"))
    followers = models.BigIntegerField(_("友だち追加の累計"), null=True, blank=True)
    targeted_reaches = models.BigIntegerField(
        _("メッセージが届く友だち"), null=True, blank=True, help_text=_("LINE の targetedReaches。")
    )
    blocks = models.BigIntegerField(_("ブロックの累計"), null=True, blank=True)
    deliveries = models.JSONField(
        _("送信数（種類別）"), default=dict, blank=True, help_text=_("LINE の種類別の送信メッセージ数。")
    )
    demographics = models.JSONField(
        _("友だちの属性"), default=dict, blank=True, help_text=_("LINE の推計（性別・年代・地域など、％）。")
    )
    fetched_at = models.DateTimeField(_("取得日時"))

    class Meta:
        verbose_name = _("LINE の統計（日別）")
        verbose_name_plural = _("LINE の統計（日別）")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "day"], name="reports_lineinsightday_once_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} LINE"

    @property
    def complete(self) -> bool:
        """LINE had counted both the friends and the deliveries of the day."""
        return self.followers is not None and bool(self.deliveries)
