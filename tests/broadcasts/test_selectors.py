"""Segment resolution: the recipients are exactly the residents that satisfy the rules."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcasts.models import BatchStatus, DeliveryBatch
from broadcasts.selectors import progress_for_broadcasts, recipients_for_segment
from municipalities.models import AgeBand, Resident
from tests.broadcasts.factories import make_broadcast

INTEREST_CODES = ["kosodate", "kenko", "bosai", "gomi"]
AREA_NAMES = ["本町", "東区", "西区"]

resident_strategy = st.fixed_dictionaries(
    {
        "following": st.booleans(),
        "paused": st.booleans(),
        "interests": st.sets(st.sampled_from(INTEREST_CODES)),
        "area": st.one_of(st.none(), st.sampled_from(AREA_NAMES)),
        "age_band": st.sampled_from(["", *AgeBand.values]),
    }
)
segment_strategy = st.fixed_dictionaries(
    {
        "emergency": st.booleans(),
        "category": st.sampled_from(INTEREST_CODES),
        "areas": st.sets(st.sampled_from(AREA_NAMES), max_size=3),
        "age_bands": st.sets(st.sampled_from(AgeBand.values), max_size=4),
    }
)


def receives(resident: dict, segment: dict) -> bool:
    """The rules as the issue states them, written independently of the selector."""
    if not resident["following"]:
        return False
    if segment["emergency"]:
        return True
    if resident["paused"] or segment["category"] not in resident["interests"]:
        return False
    if segment["areas"] and resident["area"] not in segment["areas"]:
        return False
    return not (segment["age_bands"] and resident["age_band"] not in segment["age_bands"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(residents=st.lists(resident_strategy, max_size=12), segment=segment_strategy)
def test_recipients_are_exactly_the_residents_that_satisfy_the_rules(
    town, interests, areas, other_town, residents, segment
):
    # given: a fresh set of residents in the town, and one in another town who would match
    Resident.objects.filter(municipality__in=[town, other_town]).delete()
    expected = set()
    for n, spec in enumerate(residents):
        resident = Resident.objects.create(
            municipality=town,
            line_user_id=f"U{n:032x}",
            is_following=spec["following"],
            notices_paused=spec["paused"],
            area=areas[spec["area"]] if spec["area"] else None,
            age_band=spec["age_band"],
        )
        resident.interests.set([interests[c] for c in spec["interests"]])
        if receives(spec, segment):
            expected.add(resident.pk)
    Resident.objects.create(municipality=other_town, line_user_id="U" + "9" * 32)
    # when
    found = recipients_for_segment(
        municipality=town,
        category_id=interests[segment["category"]].pk,
        area_ids=[areas[a].pk for a in segment["areas"]],
        age_bands=list(segment["age_bands"]),
        emergency=segment["emergency"],
    )
    ids = list(found.values_list("pk", flat=True))
    # then: the right residents, each once
    assert sorted(ids) == sorted(expected)


def test_progress_of_several_broadcasts_is_one_query(kenko, django_assert_num_queries):
    # given
    first, second = make_broadcast(kenko), make_broadcast(kenko)
    for seq, status in enumerate([BatchStatus.SENT, BatchStatus.FAILED, BatchStatus.PENDING]):
        DeliveryBatch.objects.create(
            broadcast=first,
            seq=seq,
            retry_key=f"00000000-0000-0000-0000-00000000000{seq}",
            line_user_ids=["U1"] * 10,
            size=10,
            status=status,
        )
    # when
    with django_assert_num_queries(1):
        progress = progress_for_broadcasts(broadcast_ids=[first.pk, second.pk])
    # then
    assert (progress[first.pk].sent, progress[first.pk].failed, progress[first.pk].pending) == (10, 10, 10)
    assert progress[first.pk].percent == 66
    assert progress[second.pk].total == 0


@pytest.mark.parametrize("emergency", [True, False])
def test_unfollowed_residents_never_receive(town, interests, emergency):
    blocked = Resident.objects.create(municipality=town, line_user_id="U" + "1" * 32, is_following=False)
    blocked.interests.set([interests["kenko"]])
    found = recipients_for_segment(
        municipality=town, category_id=interests["kenko"].pk, area_ids=[], age_bands=[], emergency=emergency
    )
    assert not found.exists()
