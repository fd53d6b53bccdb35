"""The electronic applications' daily figures for the reports (registered in municipalities.metrics).

Submissions count on the day they were submitted, completions on the day they reached 完了 (with
the hours from submission, so the dashboard shows the median and the 90th percentile), the fees
of submissions on the day they were paid (the core's payments whose subject is a submission),
and 要修正 on the day staff asked for a correction (from the audit log, which records each
request). The status of every submission is a snapshot at the time the
rollup runs (the work in hand).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Sum
from django.utils.translation import gettext_lazy as _

from applications.models import PaymentMethod, PaymentStatus, Submission, SubmissionStatus
from municipalities.metrics import MetricRow, MetricSpec, Provider, Ratio, register_provider
from municipalities.models import AuditEntry, Municipality, Payment

CORRECTION_ACTION = "applications.submission.request_correction"  # workflow transition name


def applications_rollup(municipality: Municipality, start: dt.datetime, end: dt.datetime) -> list[MetricRow]:
    """Submissions per form, status snapshot, completion times, fees per method, 要修正."""
    rows: list[MetricRow] = []
    mine = Submission.objects.filter(form__department__municipality=municipality)
    submitted = (
        mine.filter(submitted_at__gte=start, submitted_at__lt=end)
        .values_list("form__department_id", "form_id", "form__title")
        .annotate(n=Count("pk"))
        .order_by("form_id")
    )
    per_department: dict[int, int] = {}
    for department_id, form_id, title, n in submitted:
        rows.append(MetricRow("submissions_by_form", n, department_id, str(form_id), title))
        per_department[department_id] = per_department.get(department_id, 0) + n
    rows += [MetricRow("submitted", n, department_id) for department_id, n in per_department.items()]
    statuses = dict(SubmissionStatus.choices)
    in_status = (
        mine.values_list("form__department_id", "form_id", "form__title", "status")
        .annotate(n=Count("pk"))
        .order_by("form_id", "status")
    )
    for department_id, form_id, title, status, n in in_status:
        label = f"{title}（{statuses.get(status, status)}）"
        rows.append(MetricRow("in_status", n, department_id, f"{form_id}:{status}", label))
    completed = (
        mine.filter(completed_at__gte=start, completed_at__lt=end)
        .annotate(took=F("completed_at") - F("submitted_at"))
        .values_list("form__department_id", "took")
    )
    hours: dict[tuple[int, int], int] = {}
    for department_id, took in completed:
        key = (department_id, max(0, int(took.total_seconds() // 3600)))
        hours[key] = hours.get(key, 0) + 1
    done: dict[int, int] = {}
    for (department_id, h), n in sorted(hours.items()):
        rows.append(MetricRow("completion_hours", n, department_id, str(h), f"{h}時間"))
        done[department_id] = done.get(department_id, 0) + n
    rows += [MetricRow("completed", n, department_id) for department_id, n in done.items()]
    methods = dict(PaymentMethod.choices)
    fees = (
        Payment.objects.filter(
            department__municipality=municipality,
            subject_type=ContentType.objects.get_for_model(Submission),
            paid_at__gte=start,
            paid_at__lt=end,
            status__in=[PaymentStatus.PAID, PaymentStatus.REFUNDED],
        )
        .values_list("department_id", "provider")
        .annotate(amount=Sum("amount"), n=Count("pk"))
        .order_by("provider")
    )
    for department_id, provider, amount, n in fees:
        label = str(methods.get(provider, provider))
        rows.append(MetricRow("fees_by_method", amount or 0, department_id, provider, label))
        rows.append(MetricRow("payments_by_method", n, department_id, provider, label))
    corrections = (
        AuditEntry.objects.filter(
            municipality=municipality, action=CORRECTION_ACTION, created_at__gte=start, created_at__lt=end
        )
        .values_list("department_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows += [MetricRow("corrections", n, department_id) for department_id, n in corrections if department_id]
    return rows


def register() -> None:
    register_provider(
        Provider(
            key="applications",
            label=str(_("電子申請")),
            rollup=applications_rollup,
            metrics={
                "submitted": MetricSpec(_("申請"), series=True),
                "completed": MetricSpec(_("完了")),
                "corrections": MetricSpec(_("要修正の依頼")),
                "submissions_by_form": MetricSpec(_("フォーム別の申請"), dimension_label=_("フォーム")),
                "in_status": MetricSpec(
                    _("フォーム別・状態別の件数（期間末）"),
                    snapshot=True,
                    dimension_label=_("フォーム（状態）"),
                ),
                "completion_hours": MetricSpec(
                    _("申請から完了までの時間"), histogram=True, dimension_label=_("時間")
                ),
                "fees_by_method": MetricSpec(
                    _("支払方法別の手数料"), people=False, unit="円", dimension_label=_("支払方法")
                ),
                "payments_by_method": MetricSpec(_("支払方法別の支払件数"), dimension_label=_("支払方法")),
            },
            ratios=(Ratio(_("要修正率"), "corrections", ("submitted",)),),
            saves={"submitted": "counter_application"},
        )
    )
