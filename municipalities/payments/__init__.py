"""Payments, a door to outside services like the LINE gateway: one provider interface
(create a checkout, verify a signed callback, refund), one record (``municipalities.models.Payment``)
and the services in ``municipalities/services/payments.py``.

``get_provider(code)`` returns the provider for a ``PaymentMethod`` value. Providers never
touch the database: the services do, in one transaction, with what the provider answered.

What a payment is for belongs to a feature app. The app registers its subject model in
``AppConfig.ready()`` with ``register_payable``: what to do, inside the recording
transaction, when a payment of it is paid, and where the resident sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from municipalities.payments.base import (
    CallbackRequest,
    CallbackResult,
    Checkout,
    PaymentProvider,
    PaymentProviderError,
    PaymentVerificationError,
    RefundResult,
)
from municipalities.payments.counter import CounterProvider
from municipalities.payments.sandbox import SandboxProvider
from municipalities.payments.stripe_checkout import StripeProvider

if TYPE_CHECKING:
    from municipalities.models import Payment

PROVIDERS: dict[str, PaymentProvider] = {
    CounterProvider.code: CounterProvider(),
    SandboxProvider.code: SandboxProvider(),
    StripeProvider.code: StripeProvider(),
}


def get_provider(code: str) -> PaymentProvider:
    try:
        return PROVIDERS[code]
    except KeyError:
        raise PaymentVerificationError(f"unknown payment provider {code!r}") from None


@dataclass(frozen=True)
class Payable:
    """How the core hands a payment back to the app that owns its subject."""

    on_paid: Callable[[Payment], None]  # runs inside the recording transaction
    resident_path: Callable[[Any], str]  # the page where the resident sees the subject


PAYABLES: dict[str, Payable] = {}


def register_payable(
    model_label: str, *, on_paid: Callable[[Payment], None], resident_path: Callable[[Any], str]
) -> None:
    """Register a subject model (``"applications.submission"``); called from ``AppConfig.ready()``."""
    PAYABLES[model_label.lower()] = Payable(on_paid=on_paid, resident_path=resident_path)


def payable_for(payment: Payment) -> Payable:
    return PAYABLES[payment.subject_label]


__all__ = [
    "PAYABLES",
    "PROVIDERS",
    "CallbackRequest",
    "CallbackResult",
    "Checkout",
    "CounterProvider",
    "Payable",
    "PaymentProvider",
    "PaymentProviderError",
    "PaymentVerificationError",
    "RefundResult",
    "SandboxProvider",
    "StripeProvider",
    "get_provider",
    "payable_for",
    "register_payable",
]
