"""What a booking costs and what a cancellation gives back: pure functions, no database.

Kept apart from the booking service so the table of cases (tests/facilities/test_fees.py) can
check every rule without a room or a resident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from facilities.models import Discount, Extra, Facility, Rate


@dataclass(frozen=True)
class FeeBreakdown:
    """The fee of one booking, as stored on it (the columns of FacilityBooking of the same names)."""

    base_fee: int
    discount_name: str = ""
    discount_percent: int = 0
    discount_amount: int = 0
    extras_fee: int = 0
    total_fee: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)


def fee_compute(
    *,
    rate: Rate,
    is_resident_rate: bool,
    discount: Discount | None = None,
    extras: Sequence[Extra] = (),
) -> FeeBreakdown:
    """The fee of one frame: the room's rate (町内 or 町外), less the 減免 on the rate (rounded
    down to the yen in the group's favour), plus each extra's price per frame (not discounted)."""
    base = rate.resident_fee if is_resident_rate else rate.non_resident_fee
    label = "使用料（町内）" if is_resident_rate else "使用料（町外）"
    lines: list[dict[str, Any]] = [{"label": label, "amount": base}]
    percent = discount.percent if discount is not None else 0
    # Round the discount up, so the fee (base − discount) is rounded down: 1,050円 の 50% 減免 → 525円.
    discount_amount = -(-base * percent // 100) if percent else 0
    if discount is not None and discount_amount:
        lines.append({"label": f"減免（{discount.name} {percent}%）", "amount": -discount_amount})
    extras_fee = 0
    for extra in extras:
        extras_fee += extra.price_per_frame
        lines.append({"label": extra.name, "amount": extra.price_per_frame})
    return FeeBreakdown(
        base_fee=base,
        discount_name=discount.name if discount is not None else "",
        discount_percent=percent,
        discount_amount=discount_amount,
        extras_fee=extras_fee,
        total_fee=base - discount_amount + extras_fee,
        lines=lines,
    )


@dataclass(frozen=True)
class RefundBreakdown:
    cancellation_fee: int
    refund_amount: int
    free: bool  # cancelled inside the free period


def refund_compute(*, facility: Facility, paid: int, use_date: dt.date, on: dt.date) -> RefundBreakdown:
    """What a cancellation on ``on`` keeps and gives back of ``paid`` for a use on ``use_date``.

    Free (everything back) until ``cancel_free_days_before`` days before the day of use,
    inclusive: with 7, a use on the 15th is free to cancel up to the 8th. After that the facility
    keeps ``cancel_fee_percent`` of what was paid (rounded down to the yen, in the group's favour).
    """
    days_before = (use_date - on).days
    if days_before >= facility.cancel_free_days_before:
        return RefundBreakdown(cancellation_fee=0, refund_amount=paid, free=True)
    fee = paid * facility.cancel_fee_percent // 100
    return RefundBreakdown(cancellation_fee=fee, refund_amount=paid - fee, free=False)
