"""Payment providers: one interface (create a checkout, verify a signed callback, refund).

``get_provider(code)`` returns the provider for a ``PaymentMethod`` value. Providers never
touch the database: the services in ``applications/services/payments.py`` do, in one
transaction, with what the provider answered.
"""

from applications.payments.base import (
    CallbackResult,
    Checkout,
    PaymentProvider,
    PaymentVerificationError,
    RefundResult,
)
from applications.payments.counter import CounterProvider
from applications.payments.sandbox import SandboxProvider

PROVIDERS: dict[str, PaymentProvider] = {
    CounterProvider.code: CounterProvider(),
    SandboxProvider.code: SandboxProvider(),
}


def get_provider(code: str) -> PaymentProvider:
    try:
        return PROVIDERS[code]
    except KeyError:
        raise PaymentVerificationError(f"unknown payment provider {code!r}") from None


__all__ = [
    "PROVIDERS",
    "CallbackResult",
    "Checkout",
    "CounterProvider",
    "PaymentProvider",
    "PaymentVerificationError",
    "RefundResult",
    "SandboxProvider",
    "get_provider",
]
