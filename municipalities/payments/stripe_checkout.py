"""Stripe Checkout through the official ``stripe`` SDK: card, and konbini / PayPay where the
town's Stripe account has them.

- Each town has its own Stripe account: the secret key and the webhook signing secret are
  stored encrypted on the town (``Municipality.stripe_*``); ``STRIPE_API_BASE`` points the SDK
  at another host (the tests' fake Stripe on 127.0.0.1).
- Every create call carries an idempotency key derived from our payment id, so a retried
  request never opens a second session or refunds twice.
- The result comes as a webhook, verified by the SDK (``Webhook.construct_event``: HMAC-SHA256
  of ``t.payload`` with the signing secret, five minutes' tolerance). A card payment completes
  with ``checkout.session.completed``; a konbini slip completes later with
  ``checkout.session.async_payment_succeeded`` (or ``…_failed``); ``checkout.session.expired``
  means the resident never paid.
"""

from __future__ import annotations

from typing import Any, ClassVar

import stripe
from django.conf import settings

from municipalities.models import Municipality
from municipalities.payments.base import (
    CallbackRequest,
    CallbackResult,
    Checkout,
    PaymentProviderError,
    PaymentVerificationError,
    RefundResult,
)

# The Stripe event types that say how a checkout ended, and what that means for the payment.
OUTCOMES = {
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "cancelled",
}
KNOWN_METHODS = ("card", "konbini", "paypay")


def _client(municipality: Municipality) -> stripe.StripeClient:
    return stripe.StripeClient(
        municipality.stripe_secret_key,
        base_addresses={"api": settings.STRIPE_API_BASE},
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        max_network_retries=2,  # the SDK retries connection errors and 409/5xx with the same key
    )


class StripeProvider:
    code: ClassVar[str] = "stripe"
    online: ClassVar[bool] = True

    def is_configured(self, municipality: Municipality) -> bool:
        return bool(municipality.stripe_secret_key and municipality.stripe_webhook_secret)

    def create_checkout(
        self, *, municipality: Municipality, payment_id: int, amount: int, description: str, return_url: str
    ) -> Checkout:
        methods = [m for m in (municipality.stripe_payment_methods or ["card"]) if m in KNOWN_METHODS]
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "jpy",
                        "unit_amount": amount,
                        "product_data": {"name": description[:250] or "手数料"},
                    },
                    "quantity": 1,
                }
            ],
            "payment_method_types": methods or ["card"],
            "client_reference_id": str(payment_id),
            "metadata": {"payment_id": str(payment_id), "town": municipality.slug},
            "locale": "ja",
            "success_url": return_url,
            "cancel_url": return_url,
        }
        try:
            session = _client(municipality).v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"payment-{payment_id}-checkout"}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc)) from exc
        return Checkout(
            reference=session.id,
            redirect_url=session.url,
            detail={"payment_intent": session.payment_intent or ""},
        )

    def verify_callback(
        self, *, municipality: Municipality, request: CallbackRequest
    ) -> CallbackResult | None:
        try:
            event = stripe.Webhook.construct_event(
                request.body, request.signature, municipality.stripe_webhook_secret
            )
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise PaymentVerificationError(f"bad Stripe webhook: {exc}") from None
        event = event.to_dict()  # plain dicts: StripeObject has no .get()
        session = event["data"]["object"]
        if event["type"] == "checkout.session.completed":
            # A card is paid now; a konbini slip is only issued ("unpaid") and is paid later.
            outcome = (
                "paid" if session.get("payment_status") in ("paid", "no_payment_required") else "pending"
            )
        elif event["type"] in OUTCOMES:
            outcome = OUTCOMES[event["type"]]
        else:
            return None
        return CallbackResult(
            reference=session["id"],
            outcome=outcome,
            amount=int(session.get("amount_total") or 0),
            detail={"payment_intent": session.get("payment_intent") or "", "stripe_event": event["id"]},
        )

    def refund(
        self, *, municipality: Municipality, reference: str, amount: int, detail: dict[str, Any], key: str
    ) -> RefundResult:
        intent = detail.get("payment_intent")
        if not intent:
            raise PaymentProviderError("no payment_intent recorded for this Stripe payment")
        try:
            refund = _client(municipality).v1.refunds.create(
                params={"payment_intent": intent, "amount": amount}, options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc)) from exc
        return RefundResult(
            reference=reference, detail={"stripe_refund_id": refund.id, "status": refund.status}
        )
