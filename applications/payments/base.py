"""The provider interface and its value objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


class PaymentVerificationError(Exception):
    """A callback whose signature, amount or reference does not check out (forged or stale)."""


@dataclass(frozen=True)
class Checkout:
    reference: str  # the provider's id for this payment (unique per provider)
    redirect_url: str | None  # where the resident pays; None when paying at the counter


@dataclass(frozen=True)
class CallbackResult:
    reference: str
    outcome: str  # "paid", "failed" or "cancelled"
    amount: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    reference: str
    detail: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    code: ClassVar[str]
    online: ClassVar[bool]

    def create_checkout(self, *, payment_id: int, amount: int, description: str) -> Checkout: ...

    def verify_callback(self, params: dict[str, str]) -> CallbackResult: ...

    def refund(self, *, reference: str, amount: int) -> RefundResult: ...
