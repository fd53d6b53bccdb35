"""窓口払い: the resident pays at the counter and staff record it in the admin."""

from __future__ import annotations

import secrets
from typing import ClassVar

from applications.payments.base import CallbackResult, Checkout, PaymentVerificationError, RefundResult


class CounterProvider:
    code: ClassVar[str] = "counter"
    online: ClassVar[bool] = False

    def create_checkout(self, *, payment_id: int, amount: int, description: str) -> Checkout:
        return Checkout(reference=f"C{payment_id:06d}-{secrets.token_hex(3).upper()}", redirect_url=None)

    def verify_callback(self, params: dict[str, str]) -> CallbackResult:
        # Nobody calls back for the counter: staff record the payment through a service.
        raise PaymentVerificationError("the counter provider has no callback")

    def refund(self, *, reference: str, amount: int) -> RefundResult:
        # Cash is handed back at the counter; the record is what matters.
        return RefundResult(reference=reference, detail={"method": "counter"})
