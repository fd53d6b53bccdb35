"""窓口払い: the resident pays at the counter and staff record it in the admin."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from municipalities.models import Municipality
from municipalities.payments.base import (
    CallbackRequest,
    CallbackResult,
    Checkout,
    PaymentVerificationError,
    RefundResult,
)


class CounterProvider:
    code: ClassVar[str] = "counter"
    online: ClassVar[bool] = False

    def is_configured(self, municipality: Municipality) -> bool:
        return True

    def create_checkout(
        self, *, municipality: Municipality, payment_id: int, amount: int, description: str, return_url: str
    ) -> Checkout:
        return Checkout(reference=f"C{payment_id:06d}-{secrets.token_hex(3).upper()}", redirect_url=None)

    def verify_callback(
        self, *, municipality: Municipality, request: CallbackRequest
    ) -> CallbackResult | None:
        # Nobody calls back for the counter: staff record the payment through a service.
        raise PaymentVerificationError("the counter provider has no callback")

    def refund(
        self, *, municipality: Municipality, reference: str, amount: int, detail: dict[str, Any], key: str
    ) -> RefundResult:
        # Cash is handed back at the counter; the record is what matters.
        return RefundResult(reference=reference, detail={"method": "counter"})
