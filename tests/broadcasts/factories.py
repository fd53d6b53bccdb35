"""Factories of the broadcasts app, and its permission-matrix builder."""

from __future__ import annotations

import itertools
from typing import Any

import factory

from broadcasts.models import Broadcast, BroadcastMessage, BroadcastStatus
from municipalities.models import AgeBand, Area, Department, Interest, Municipality, Resident
from tests.matrix import matrix_builder

_serial = itertools.count(1)


class BroadcastFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Broadcast

    title = factory.Sequence(lambda n: f"お知らせ {n}")
    status = BroadcastStatus.DRAFT


class BroadcastMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BroadcastMessage

    kind = "text"
    text = "健康診断のお知らせです。"


def interest_of(municipality: Municipality, code: str = "kenko") -> Interest:
    interest, _ = Interest.objects.get_or_create(
        municipality=municipality, code=code, defaults={"name": code}
    )
    return interest


def make_broadcast(
    department: Department,
    *,
    category: Interest | None = None,
    emergency: bool = False,
    texts: list[str] | None = None,
    areas: list[Area] | None = None,
    age_bands: list[str] | None = None,
    **fields: Any,
) -> Broadcast:
    """A draft with text messages, built directly (the admin form path has its own tests)."""
    if category is None and not emergency:
        category = interest_of(department.municipality)
    broadcast = BroadcastFactory(
        department=department, category=category, is_emergency=emergency, age_bands=age_bands or [], **fields
    )
    if areas:
        broadcast.areas.set(areas)
    for position, text in enumerate(texts if texts is not None else ["健康診断のお知らせです。"]):
        BroadcastMessageFactory(broadcast=broadcast, position=position, text=text)
    return broadcast


def make_residents(
    municipality: Municipality,
    count: int,
    *,
    interests: list[Interest] = (),  # type: ignore[assignment]
    area: Area | None = None,
    age_band: str = "",
    notices_paused: bool = False,
    is_following: bool = True,
    prefix: str = "",
) -> list[Resident]:
    """Many residents at once (bulk insert; the core services are tested in the core app)."""
    start = next(_serial) * 1_000_000
    residents = Resident.objects.bulk_create(
        Resident(
            municipality=municipality,
            line_user_id=f"U{prefix}{start + i:0{32 - len(prefix)}x}",
            display_name=f"住民{i}",
            area=area,
            age_band=age_band,
            notices_paused=notices_paused,
            is_following=is_following,
        )
        for i in range(count)
    )
    if interests:
        through = Resident.interests.through
        through.objects.bulk_create(
            through(resident_id=r.pk, interest_id=i.pk) for r in residents for i in interests
        )
    return residents


@matrix_builder(Broadcast)
def _broadcast(department: Department) -> Broadcast:
    # With a batch LINE refused, so that the matrix also reaches the failed-batch inline.
    import uuid

    from broadcasts.models import BatchStatus, DeliveryBatch

    broadcast = make_broadcast(department, age_bands=[AgeBand.AGE_30S])
    DeliveryBatch.objects.create(
        broadcast=broadcast,
        seq=0,
        retry_key=uuid.uuid4(),
        line_user_ids=["U" + "0" * 32],
        size=1,
        status=BatchStatus.FAILED,
        http_status=400,
        error_message="The request body has 1 error(s)",
    )
    return broadcast
