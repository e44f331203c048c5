"""Taking payment: a small provider interface and the one built-in provider, for test cards.

The provider is chosen by settings.PAYMENT_PROVIDER (a dotted path). A real provider would be
called the same way; note that order_place charges inside its transaction, which is fine for an
in-process provider but would hold stock row locks for a network round trip with a real one
(authorise before the transaction and capture after it instead).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import uuid4

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str = ""
    message: str = ""  # for the shopper when declined


class PaymentProvider(Protocol):
    name: str

    def charge(self, amount: Decimal, reference: str, details: dict[str, str]) -> PaymentResult:
        """Charge `amount` for the order `reference` with the shopper's payment `details`."""
        ...


class TestCardProvider:
    """Accept the well-known test card numbers and decline the test "declined" card; anything
    else is refused as not a test card. Moves no money: for demos and tests only."""

    __test__ = False  # not a pytest test class, despite the name
    name = "test-cards"
    APPROVED = frozenset({"4242424242424242", "5555555555554444", "378282246310005"})
    DECLINED = frozenset({"4000000000000002"})

    def charge(self, amount: Decimal, reference: str, details: dict[str, str]) -> PaymentResult:
        number = "".join(ch for ch in details.get("card_number", "") if ch.isdigit())
        if number in self.APPROVED:
            return PaymentResult(True, reference=f"test_{uuid4().hex[:24]}")
        if number in self.DECLINED:
            return PaymentResult(False, message="Your card was declined. Nothing was charged.")
        return PaymentResult(
            False, message="That is not a test card number; try 4242 4242 4242 4242."
        )


def payment_provider() -> PaymentProvider:
    """The configured provider (settings.PAYMENT_PROVIDER)."""
    return import_string(settings.PAYMENT_PROVIDER)()
