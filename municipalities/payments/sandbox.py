"""A sandbox payment gateway built into the site, so the whole fee flow works in the demo.

It behaves like a typical Japanese gateway: the resident is redirected to its checkout page
(here ``payments:sandbox_checkout``), chooses success, failure or cancel, and the gateway
sends a result notification signed with HMAC-SHA256 over the canonical parameters. The
callback view verifies the signature (constant-time), the amount and the freshness.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any, ClassVar

from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_bytes

from municipalities.models import Municipality
from municipalities.payments.base import (
    CallbackRequest,
    CallbackResult,
    Checkout,
    PaymentVerificationError,
    RefundResult,
)

OUTCOMES = ("paid", "failed", "cancelled")
SIGNED_FIELDS = ("reference", "outcome", "amount", "ts")
MAX_CALLBACK_AGE_SECONDS = 60 * 60


def _secret() -> bytes:
    # Derived from SECRET_KEY (settings.py is the only env reader); a real gateway issues its own.
    return hashlib.sha256(force_bytes("payments.sandbox-gateway:" + settings.SECRET_KEY)).digest()


def sign(params: dict[str, str]) -> str:
    message = "&".join(f"{name}={params[name]}" for name in SIGNED_FIELDS)
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()


def signed_result(*, reference: str, outcome: str, amount: int, ts: int | None = None) -> dict[str, str]:
    """What the gateway sends back: the parameters plus their signature."""
    params = {
        "reference": reference,
        "outcome": outcome,
        "amount": str(amount),
        "ts": str(ts or int(time.time())),
    }
    params["signature"] = sign(params)
    return params


class SandboxProvider:
    code: ClassVar[str] = "sandbox"
    online: ClassVar[bool] = True

    def is_configured(self, municipality: Municipality) -> bool:
        return True

    def create_checkout(
        self, *, municipality: Municipality, payment_id: int, amount: int, description: str, return_url: str
    ) -> Checkout:
        reference = f"SBX-{payment_id:06d}-{secrets.token_hex(6)}"
        url = reverse("payments:sandbox_checkout", kwargs={"reference": reference})
        return Checkout(reference=reference, redirect_url=url)

    def verify_callback(
        self, *, municipality: Municipality, request: CallbackRequest
    ) -> CallbackResult | None:
        params = request.params
        try:
            values = {name: str(params[name]) for name in SIGNED_FIELDS}
            signature = str(params["signature"])
            amount = int(values["amount"])
            ts = int(values["ts"])
        except (KeyError, TypeError, ValueError):
            raise PaymentVerificationError("missing or malformed parameters") from None
        if not hmac.compare_digest(sign(values), signature):
            raise PaymentVerificationError("bad signature")
        if values["outcome"] not in OUTCOMES:
            raise PaymentVerificationError("unknown outcome")
        if abs(time.time() - ts) > MAX_CALLBACK_AGE_SECONDS:
            raise PaymentVerificationError("stale callback")
        return CallbackResult(
            reference=values["reference"], outcome=values["outcome"], amount=amount, detail={"ts": ts}
        )

    def refund(
        self, *, municipality: Municipality, reference: str, amount: int, detail: dict[str, Any], key: str
    ) -> RefundResult:
        return RefundResult(reference=reference, detail={"sandbox_refund_id": "RF-" + secrets.token_hex(4)})
