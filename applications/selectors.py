"""Reads of the applications app that are more than a one-liner."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from applications import workflow
from applications.models import ApplicationForm, Payment, PaymentStatus, Submission
from applications.workflow import SubmissionStatus as S
from municipalities.models import Municipality, Resident
from municipalities.permissions import policy_for


def forms_open_for_resident(*, municipality: Municipality) -> list[ApplicationForm]:
    """Published forms of the town that accept submissions now, by department."""
    now = timezone.now()
    qs = (
        ApplicationForm.objects.filter(
            department__municipality=municipality, is_published=True, closed_at__isnull=True
        )
        .filter(Q(opens_at__isnull=True) | Q(opens_at__lte=now))
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .select_related("department")
        .order_by("department__sort_order", "title")
    )
    return list(qs)


def form_for_resident(*, resident: Resident, form_id: int) -> ApplicationForm | None:
    return (
        ApplicationForm.objects.select_related("department")
        .filter(pk=form_id, department__municipality_id=resident.municipality_id)
        .first()
    )


def submissions_for_resident(*, resident: Resident) -> QuerySet[Submission]:
    """The resident's own submissions, newest first ("My applications")."""
    return (
        Submission.objects.filter(resident=resident)
        .select_related("form__department")
        .order_by("-submitted_at", "-pk")
    )


def submission_for_resident(*, resident: Resident, reference: str) -> Submission | None:
    return (
        submissions_for_resident(resident=resident)
        .prefetch_related("attachments", "payments", "form__fields")
        .filter(reference=reference)
        .first()
    )


def live_submission_for_resident(*, resident: Resident, form: ApplicationForm) -> Submission | None:
    """The resident's submission to ``form`` that still counts for "1人1件" (not withdrawn/rejected)."""
    return (
        Submission.objects.filter(resident=resident, form=form, status__in=workflow.LIVE_STATUSES)
        .order_by("-submitted_at")
        .first()
    )


def submissions_for_staff(*, user: Any, action: str = "view") -> QuerySet[Submission]:
    qs = Submission.objects.select_related("form__department", "resident", "assignee")
    return policy_for(Submission).instances_user_has_permission_for(user, action, qs)


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(
        end + timedelta(days=1), time.min, tzinfo=tz
    )


def payments_for_staff(*, user: Any, start: date, end: date) -> QuerySet[Payment]:
    """Paid (and later refunded) payments whose payment time falls in [start, end], in scope."""
    lower, upper = _day_bounds(start, end)
    qs = Payment.objects.filter(
        status__in=[PaymentStatus.PAID, PaymentStatus.REFUNDED], paid_at__gte=lower, paid_at__lt=upper
    ).select_related("submission__form__department", "submission__resident", "recorded_by")
    return policy_for(Payment).instances_user_has_permission_for(user, "view", qs)


def payments_reconciliation(*, user: Any, start: date, end: date) -> list[dict[str, Any]]:
    """Totals per day (Asia/Tokyo), form and provider: count, paid amount, refunded amount."""
    rows = (
        payments_for_staff(user=user, start=start, end=end)
        .annotate(day=TruncDate("paid_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "submission__form__title", "submission__form__department__name", "provider")
        .annotate(
            n=Count("pk"),
            total=Sum("amount"),
            refunded_total=Sum("amount", filter=Q(status=PaymentStatus.REFUNDED)),
        )
        .order_by("day", "submission__form__department__name", "submission__form__title", "provider")
    )
    return [
        {
            "day": r["day"],
            "department": r["submission__form__department__name"],
            "form": r["submission__form__title"],
            "provider": r["provider"],
            "count": r["n"],
            "amount": r["total"] or 0,
            "refunded": r["refunded_total"] or 0,
            "net": (r["total"] or 0) - (r["refunded_total"] or 0),
        }
        for r in rows
    ]


def unpaid_submissions_for_staff(*, user: Any) -> QuerySet[Submission]:
    """Submissions waiting for their fee (支払待ち), oldest first."""
    return submissions_for_staff(user=user).filter(status=S.AWAITING_PAYMENT).order_by("submitted_at")
