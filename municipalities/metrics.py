"""The registry of daily figures (日次集計) that the reports app stores and shows.

Feature apps may not import each other, and the core imports none of them, so the reports app
cannot read bookings or submissions itself. Instead each app registers a *rollup provider* in
its ``AppConfig.ready()`` (the provider lives in ``<app>/metrics.py``): a function that, given a
town and the bounds of one day in Asia/Tokyo, returns that day's rows (``MetricRow``), plus the
description of its metrics (``MetricSpec``) so that the dashboard can label, chart, total and
suppress them without knowing the app.

A feature that wants an event counted without the rollup reading the wording of messages records
it with ``metric_event_record`` (a MetricEvent row: source, kind, topic); its rollup counts those
rows (the chatbot's answered / not understood / handed off, with the topic).

The friends figures come from the core's own data (webhook follow/unfollow events and the
residents' receive settings) and are registered here.

Slots that no app fills yet (the rich menu's tap counts) are listed in ``SECTIONS`` so the
dashboard shows them with a sentence instead of leaving them out.

Contract of a rollup function:

- it reads only the rows of ``municipality`` with a time in ``[start, end)`` (or, for a
  snapshot, the state at the time it runs) and writes nothing;
- it returns the same rows for the same data (the reports app replaces the day's rows, so
  running it twice changes nothing);
- its queries use indexes on the time columns: the nightly rollup of a town with ten million
  webhook events a year must finish in seconds.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from municipalities.models import AgeBand, MetricEvent, Municipality, Resident, WebhookEvent


@dataclass(frozen=True)
class MetricRow:
    """One figure of one day: ``value`` of ``metric`` (for ``department_id``, or the whole town
    when None), optionally broken down by ``dimension`` (a stable key) shown as ``label``."""

    metric: str
    value: int
    department_id: int | None = None
    dimension: str = ""
    label: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """How the dashboard treats one metric.

    ``people``: the value counts residents (or their bookings, questions…), so a breakdown cell
    under 3 is exported as 「3未満」. ``snapshot``: a state at the end of the day (friends in
    total, distributions); a period shows its last day, not a sum. ``histogram``: the
    dimension is a duration in hours and the value how many took that long; the dashboard shows
    the median and the 90th percentile. ``series``: charted per day. ``unit``: shown after the
    number. The top 20 rows of a breakdown are shown (and all of them exported).
    """

    label: str
    people: bool = True
    snapshot: bool = False
    histogram: bool = False
    series: bool = False
    unit: str = "件"
    dimension_label: str = ""
    # An admin URL name taking the dimension as its one argument: each breakdown row links there
    # (an unanswered question → the page that makes it an FAQ).
    link: str = ""
    # Breakdowns of one ``group`` are shown as one table, a ``column`` each (per broadcast:
    # recipients, delivered, failed, blocks); the export keeps one block per metric.
    group: str = ""
    column: str = ""


@dataclass(frozen=True)
class Ratio:
    """A rate the dashboard derives from two totals: ``numerator / sum(denominator)``.
    ``by_month``: also shown month by month (the share of bookings made on LINE, for example).
    Set ``numerator``/``denominator`` empty and only ``breakdown`` for a rate per dimension alone."""

    label: str
    numerator: str
    denominator: tuple[str, ...]
    by_month: bool = False
    # (numerator metric, denominator metric) broken down by the same dimension: the rate per
    # category, for example, sorted highest first ("which categories lose friends").
    breakdown: tuple[str, str] | None = None


RollupFunction = Callable[[Municipality, dt.datetime, dt.datetime], Iterable[MetricRow]]


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    rollup: RollupFunction
    metrics: dict[str, MetricSpec]
    ratios: tuple[Ratio, ...] = ()
    # metric → procedure key in PROCEDURES: each unit of the metric is one procedure staff did not
    # have to do by hand (the staff-time-saved estimate).
    saves: dict[str, str] = field(default_factory=dict)
    town_wide: bool = False  # every row has no department: only 自治体管理者 sees them


# The dashboard's sections, in order. A section whose provider is not registered is shown with
# its note (the rich menu: its taps join when the rich-menu feature registers "richmenu").
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("friends", _("友だち"), ""),
    (
        "line_insight",
        _("LINE の統計"),
        _("LINE 公式アカウントの統計（LINE Insight）は、毎晩 LINE から取得した日から表示されます。"),
    ),
    ("broadcasts", _("配信"), ""),
    ("reservations", _("予約"), ""),
    ("applications", _("電子申請"), ""),
    ("facilities", _("施設予約"), ""),
    ("chatbot", _("チャットボット"), ""),
    (
        "richmenu",
        _("リッチメニュー"),
        _("リッチメニューのタップ数は、リッチメニュー機能の導入後にここに表示されます。"),
    ),
)


@dataclass(frozen=True)
class Procedure:
    """A procedure that staff do by hand when the resident does not use LINE, with the minutes it
    takes by default and where that default comes from. A town replaces the minutes with its own
    measurement (reports: 業務時間の前提)."""

    key: str
    label: str
    minutes: int
    source: str


PROCEDURES: dict[str, Procedure] = {
    p.key: p
    for p in (
        Procedure(
            "phone_booking",
            _("電話での予約受付"),
            6,
            _(
                "既定値（仮定）: 電話の応対 3 分、台帳・システムへの記入 2 分、復唱と確認 1 分。町の実測値に変更してください。"
            ),
        ),
        Procedure(
            "counter_application",
            _("窓口での申請受付（手数料の収納を含む）"),
            15,
            _(
                "既定値（仮定）: 記入の案内と本人確認 7 分、審査前の確認 4 分、手数料の収納と領収 4 分。町の実測値に変更してください。"
            ),
        ),
        Procedure(
            "phone_enquiry",
            _("電話での問い合わせ対応"),
            4,
            _(
                "既定値（仮定）: ごみの分別・収集日や手続きの一般的な問い合わせ 1 件の応対。町の実測値に変更してください。"
            ),
        ),
        Procedure(
            "paper_notice",
            _("紙・郵送でのお知らせ"),
            1,
            _("既定値（仮定）: 1 通あたりの印刷・封入・発送の作業時間。町の実測値に変更してください。"),
        ),
    )
}

_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Add (or replace, on a re-import) the provider of one section. Called from ready()."""
    if provider.key not in {key for key, _label, _note in SECTIONS}:
        raise ValueError(f"unknown metrics section: {provider.key!r} (add it to SECTIONS)")
    for metric, procedure in provider.saves.items():
        if procedure not in PROCEDURES or metric not in provider.metrics:
            raise ValueError(f"{provider.key}: {metric!r} saves an unknown procedure {procedure!r}")
    _PROVIDERS[provider.key] = provider


def providers() -> list[Provider]:
    """The registered providers in the order of SECTIONS."""
    order = [key for key, _label, _note in SECTIONS]
    return sorted(_PROVIDERS.values(), key=lambda p: order.index(p.key))


def provider_for(key: str) -> Provider | None:
    return _PROVIDERS.get(key)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of ``day`` in the project's time zone (Asia/Tokyo): 00:00 JST to the next
    00:00 JST, as aware datetimes (15:00 UTC the day before, and so on)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, start + dt.timedelta(days=1)


@dataclass
class _Deferred:
    rows: list[MetricEvent]
    depth: int  # the connection's atomic blocks when the block began


_deferred: contextvars.ContextVar[_Deferred | None] = contextvars.ContextVar("metric_deferred", default=None)


@contextmanager
def metric_events_deferred() -> Iterator[list[MetricEvent]]:
    """Within the block, ``metric_event_record`` keeps its row (unsaved) in the list it yields
    instead of INSERTing it, and the caller writes them: the webhook worker, with the event's
    talk log and its ``processed`` (one statement on PostgreSQL, ``line.pgwrites``). A row
    recorded inside a transaction opened within the block is INSERTed at once, as before, so
    that a rollback still takes it back. Rows the caller does not write are not recorded."""
    # ``atomic_blocks``: Django's stack of the connection's open ``atomic()`` blocks (a test's
    # own transaction is one of them, below the depth taken here).
    deferred = _Deferred(rows=[], depth=len(connection.atomic_blocks))
    reset = _deferred.set(deferred)
    try:
        yield deferred.rows
    finally:
        _deferred.reset(reset)


def metric_event_record(
    *, municipality_id: int, source: str, kind: str, topic: str = "", label: str = ""
) -> MetricEvent:
    """Record one countable event of ``source`` (``kind``, on ``topic`` shown as ``label``) now.

    One INSERT, in the caller's transaction if there is one (a rollback takes it back), in its
    own otherwise; nothing is enqueued. Inside ``metric_events_deferred`` and outside a
    transaction opened in it, the row is not written here but returned unsaved and kept for the
    block's owner to write. Keep resident-identifying text out of ``label``.
    """
    row = MetricEvent(
        municipality_id=municipality_id,
        source=source[:32],
        kind=kind[:32],
        topic=topic[:100],
        label=str(label)[:300],
    )
    deferred = _deferred.get()
    if deferred is not None and len(connection.atomic_blocks) == deferred.depth:
        deferred.rows.append(row)
    else:
        row.save(force_insert=True)
    return row


# --- the core's own provider: friends ----------------------------------------------------------


def friends_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Follows and blocks of the day (webhook events, by the time they reached the town), and the
    friends at the end of the day with their receive settings (area, age band, interests).

    The follow/unfollow counts come from the stored webhook events, which the talk-log retention
    deletes after the town's retention period: the nightly rollup runs long before that, and a
    backfill further back than the retention finds only what is left.
    """
    events = WebhookEvent.objects.filter(
        municipality=municipality,
        created_at__gte=start,
        created_at__lt=end,
        event_type__in=["follow", "unfollow"],
    ).aggregate(
        follows=Count("pk", filter=Q(event_type="follow")),
        unfollows=Count("pk", filter=Q(event_type="unfollow")),
    )
    rows = [
        MetricRow("follows", events["follows"]),
        MetricRow("unfollows", events["unfollows"]),
        MetricRow("net", events["follows"] - events["unfollows"]),
    ]
    # Friends at the end of the day: followed before it ended, and not blocked since (a resident
    # who blocked after `end` was still a friend then). Simulated residents are not LINE users.
    friends = Resident.objects.filter(municipality=municipality, is_simulated=False).filter(
        Q(followed_at__lt=end) | Q(followed_at__isnull=True, created_at__lt=end),
        Q(is_following=True) | Q(unfollowed_at__gte=end),
    )
    totals = friends.aggregate(
        total=Count("pk"),
        with_settings=Count(
            "pk", filter=Q(area__isnull=False) | ~Q(age_band="") | Q(interests__isnull=False), distinct=True
        ),
    )
    rows += [MetricRow("friends", totals["total"]), MetricRow("with_settings", totals["with_settings"])]
    for area_id, name, count in (
        friends.values_list("area_id", "area__name")
        .annotate(n=Count("pk"))
        .values_list("area_id", "area__name", "n")
    ):
        rows.append(MetricRow("by_area", count, dimension=str(area_id or ""), label=name or str(_("未設定"))))
    bands = dict(AgeBand.choices)
    for band, count in friends.values_list("age_band").annotate(n=Count("pk")).values_list("age_band", "n"):
        rows.append(MetricRow("by_age", count, dimension=band, label=str(bands.get(band, _("未設定")))))
    for interest_id, name, count in (
        friends.filter(interests__isnull=False)
        .values_list("interests__id", "interests__name")
        .annotate(n=Count("pk"))
        .values_list("interests__id", "interests__name", "n")
    ):
        rows.append(MetricRow("by_interest", count, dimension=str(interest_id), label=name))
    return rows


register_provider(
    Provider(
        key="friends",
        label=str(_("友だち")),
        rollup=friends_rollup,
        town_wide=True,
        metrics={
            "follows": MetricSpec(_("友だち追加"), series=True, unit="人"),
            "unfollows": MetricSpec(_("ブロック"), series=True, unit="人"),
            "net": MetricSpec(_("純増"), series=True, unit="人"),
            "friends": MetricSpec(_("友だち数（期間末）"), snapshot=True, unit="人"),
            "with_settings": MetricSpec(_("受信設定をした友だち（期間末）"), snapshot=True, unit="人"),
            "by_area": MetricSpec(_("地区別の友だち"), snapshot=True, unit="人", dimension_label=_("地区")),
            "by_age": MetricSpec(_("年代別の友だち"), snapshot=True, unit="人", dimension_label=_("年代")),
            "by_interest": MetricSpec(
                _("分野別の受信希望"), snapshot=True, unit="人", dimension_label=_("お知らせの分野")
            ),
        },
        ratios=(Ratio(_("受信設定の記入率"), "with_settings", ("friends",)),),
    )
)
