"""Fee and refund rules as tables of cases (pure functions; no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from facilities.models import Discount, Extra, Facility, Rate
from facilities.services.fees import fee_compute, refund_compute

RATE = Rate(resident_fee=2000, non_resident_fee=3000)
ODD_RATE = Rate(resident_fee=1050, non_resident_fee=1575)
HALF = Discount(name="高齢者団体減免", percent=50)
THIRD = Discount(name="三割減免", percent=30)
FULL = Discount(name="障害者団体減免", percent=100)
AIRCON = Extra(name="冷暖房", price_per_frame=500)
PROJECTOR = Extra(name="プロジェクター", price_per_frame=300)


@pytest.mark.parametrize(
    ("rate", "resident", "discount", "extras", "base", "discount_amount", "extras_fee", "total"),
    [
        (RATE, True, None, [], 2000, 0, 0, 2000),
        (RATE, False, None, [], 3000, 0, 0, 3000),
        (RATE, True, HALF, [], 2000, 1000, 0, 1000),
        (RATE, False, HALF, [], 3000, 1500, 0, 1500),
        (RATE, True, FULL, [], 2000, 2000, 0, 0),
        (RATE, True, None, [AIRCON], 2000, 0, 500, 2500),
        # extras are not discounted, even by a full 減免
        (RATE, True, FULL, [AIRCON, PROJECTOR], 2000, 2000, 800, 800),
        (RATE, True, HALF, [AIRCON], 2000, 1000, 500, 1500),
        # rounding in the group's favour: 1,050 × 50% = 525; 1,575 × 30% = 472.5 → 473 off
        (ODD_RATE, True, HALF, [], 1050, 525, 0, 525),
        (ODD_RATE, False, THIRD, [], 1575, 473, 0, 1102),
        (Rate(resident_fee=0, non_resident_fee=0), True, None, [], 0, 0, 0, 0),
    ],
)
def test_fee_compute(rate, resident, discount, extras, base, discount_amount, extras_fee, total) -> None:
    fee = fee_compute(rate=rate, is_resident_rate=resident, discount=discount, extras=extras)
    assert (fee.base_fee, fee.discount_amount, fee.extras_fee, fee.total_fee) == (
        base,
        discount_amount,
        extras_fee,
        total,
    )
    assert sum(line["amount"] for line in fee.lines) == total
    assert fee.discount_percent == (discount.percent if discount else 0)


def test_fee_lines_name_each_part() -> None:
    fee = fee_compute(rate=RATE, is_resident_rate=False, discount=HALF, extras=[AIRCON])
    assert fee.lines == [
        {"label": "使用料（町外）", "amount": 3000},
        {"label": "減免（高齢者団体減免 50%）", "amount": -1500},
        {"label": "冷暖房", "amount": 500},
    ]


USE = dt.date(2026, 6, 15)


@pytest.mark.parametrize(
    ("free_days", "fee_percent", "paid", "cancelled_on", "fee", "refund", "free"),
    [
        (7, 100, 2000, dt.date(2026, 6, 1), 0, 2000, True),
        (7, 100, 2000, dt.date(2026, 6, 8), 0, 2000, True),  # exactly 7 days before: still free
        (7, 100, 2000, dt.date(2026, 6, 9), 2000, 0, False),  # 6 days before: nothing back
        (7, 50, 2000, dt.date(2026, 6, 9), 1000, 1000, False),
        (7, 50, 2000, dt.date(2026, 6, 15), 1000, 1000, False),  # on the day
        (7, 30, 1050, dt.date(2026, 6, 14), 315, 735, False),
        (7, 33, 1000, dt.date(2026, 6, 14), 330, 670, False),
        (3, 50, 999, dt.date(2026, 6, 14), 499, 500, False),  # fee rounded down
        (0, 100, 2000, dt.date(2026, 6, 15), 0, 2000, True),  # free until the day itself
        (7, 0, 2000, dt.date(2026, 6, 14), 0, 2000, False),  # no fee after the period
        (7, 100, 0, dt.date(2026, 6, 14), 0, 0, False),
    ],
)
def test_refund_compute(free_days, fee_percent, paid, cancelled_on, fee, refund, free) -> None:
    facility = Facility(cancel_free_days_before=free_days, cancel_fee_percent=fee_percent)
    terms = refund_compute(facility=facility, paid=paid, use_date=USE, on=cancelled_on)
    assert (terms.cancellation_fee, terms.refund_amount, terms.free) == (fee, refund, free)
    assert terms.cancellation_fee + terms.refund_amount == paid
