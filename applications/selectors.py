"""Reads of the applications app that are more than a one-liner."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from applications import workflow
from applications.models import ApplicationForm, Submission
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
