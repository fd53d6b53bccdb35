"""Reads of the core app."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from municipalities.models import Municipality, Resident


def residents_for_segment(
    *,
    municipality: Municipality,
    interest_ids: Iterable[int] | None = None,
    area_ids: Iterable[int] | None = None,
    age_bands: Iterable[str] | None = None,
    emergency: bool = False,
    after_id: int | None = None,
) -> QuerySet[Resident]:
    """Followers of ``municipality`` who should receive a notice.

    Emergency notices go to every follower. Otherwise a resident must not have paused notices,
    must have chosen one of ``interest_ids`` (when given), and must match the area and age band
    filters (when given). One query; callers stream it with ``.values_list(...).iterator()``.

    ``after_id``: only residents with a greater primary key (keyset paging in primary key
    order). The bound is put on the chosen interests too: PostgreSQL does not carry it across
    the join by itself, and would merge-join the interests from the first resident on.
    """
    qs = Resident.objects.filter(municipality=municipality, is_following=True)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    if emergency:
        return qs
    qs = qs.filter(notices_paused=False)
    interest_ids = list(interest_ids or [])
    if interest_ids:
        # A subquery rather than a join: a resident who chose several of them is one row.
        chosen = Resident.interests.through.objects.filter(interest_id__in=interest_ids)
        if after_id is not None:
            chosen = chosen.filter(resident_id__gt=after_id)
        qs = qs.filter(pk__in=chosen.values("resident_id"))
    if area_ids:
        qs = qs.filter(area_id__in=list(area_ids))
    if age_bands:
        qs = qs.filter(age_band__in=list(age_bands))
    return qs
