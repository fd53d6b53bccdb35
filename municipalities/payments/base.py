"""The provider interface and its value objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from municipalities.models import Municipality


class PaymentVerificationError(Exception):
    """A callback whose signature, amount or reference does not check out (forged or stale)."""


class PaymentProviderError(Exception):
    """The provider could not be reached or refused a request; nothing was charged or refunded."""


@dataclass(frozen=True)
class Checkout:
    reference: str  # the provider's id for this payment (unique per provider)
    redirect_url: str | None  # where the resident pays; None when paying at the counter
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackRequest:
    """What a provider sent: query or form parameters, and the raw body with its signature."""

    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    signature: str = ""


@dataclass(frozen=True)
class CallbackResult:
    reference: str
    outcome: str  # "paid", "failed", "cancelled", or "pending" (e.g. a konbini slip issued)
    amount: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    reference: str
    detail: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    code: ClassVar[str]
    online: ClassVar[bool]

    def is_configured(self, municipality: Municipality) -> bool: ...

    def create_checkout(
        self,
        *,
        municipality: Municipality,
        payment_id: int,
        amount: int,
        description: str,
        return_url: str,
    ) -> Checkout: ...

    def verify_callback(
        self, *, municipality: Municipality, request: CallbackRequest
    ) -> CallbackResult | None:
        """The verified result, or None for a notification that is not about a payment outcome."""
        ...

    def refund(
        self, *, municipality: Municipality, reference: str, amount: int, detail: dict[str, Any], key: str
    ) -> RefundResult: ...
