"""Reads of the core app."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from municipalities.models import Department, Municipality, Resident, StaffUser
from municipalities.permissions import Scope


def departments_for_staff(
    *, user: StaffUser, perm: str = "municipalities.view_department"
) -> QuerySet[Department]:
    """Departments in which ``user`` holds ``perm`` ("app.codename")."""
    qs = Department.objects.select_related("municipality")
    if user.is_superuser:
        return qs
    return qs.filter(Scope(user, perm).q(Department))


def municipalities_for_staff(*, user: StaffUser) -> QuerySet[Municipality]:
    """The towns a staff member works for: their own; every town for a superuser."""
    if user.is_superuser:
        return Municipality.objects.all()
    return Municipality.objects.filter(pk=user.municipality_id)


def residents_for_segment(
    *,
    municipality: Municipality,
    interest_ids: Iterable[int] | None = None,
    area_ids: Iterable[int] | None = None,
    age_bands: Iterable[str] | None = None,
    emergency: bool = False,
) -> QuerySet[Resident]:
    """Followers of ``municipality`` who should receive a notice.

    Emergency notices go to every follower. Otherwise a resident must not have paused notices,
    must have chosen one of ``interest_ids`` (when given), and must match the area and age band
    filters (when given). One query; callers stream it with ``.values_list(...).iterator()``.
    """
    qs = Resident.objects.filter(municipality=municipality, is_following=True)
    if emergency:
        return qs
    qs = qs.filter(notices_paused=False)
    interest_ids = list(interest_ids or [])
    if interest_ids:
        qs = qs.filter(interests__in=interest_ids)
    if area_ids:
        qs = qs.filter(area_id__in=list(area_ids))
    if age_bands:
        qs = qs.filter(age_band__in=list(age_bands))
    # Several interests join several rows per resident.
    return qs.distinct() if len(interest_ids) > 1 else qs
