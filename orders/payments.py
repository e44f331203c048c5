"""Taking payment: a small provider interface and the one built-in provider, for test cards.

The provider is chosen by settings.PAYMENT_PROVIDER (a dotted path). order_place calls it
outside any transaction, between reserving the stock and confirming the order, so a slow
provider holds no row locks. Every charge carries an idempotency key (one per checkout): a
provider charges a key at most once and answers a repeated charge with the first result, so a
retried request, a second tab or the reservation sweep (which asks `charge_find`) never charges
twice. A charge that ends up without an order (it landed after its reservation was released) is
given back with `refund`, under a key of its own, so it too happens at most once.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Protocol
from uuid import uuid4

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str = ""
    message: str = ""  # for the shopper when declined
    # What the provider says about the card charged, for the shopper's receipt ("Visa ending
    # 4242"): its brand and last four digits only. The full number is never kept.
    card_brand: str = ""
    card_last4: str = ""


class PaymentUnavailable(Exception):
    """The provider could not be reached or gave no answer: the charge may or may not exist."""


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, amount: Decimal, reference: str, details: dict[str, str], *, idempotency_key: str
    ) -> PaymentResult:
        """Charge `amount` for the order `reference` with the shopper's payment `details`,
        once per `idempotency_key` (a repeat returns the first result); raise
        PaymentUnavailable when the outcome is unknown."""
        ...

    def charge_find(self, idempotency_key: str) -> PaymentResult | None:
        """The result of the charge made with `idempotency_key`, or None if there was none;
        raise PaymentUnavailable when the provider cannot say."""
        ...

    def refund(
        self, charge_reference: str, amount: Decimal, *, idempotency_key: str
    ) -> PaymentResult:
        """Give back `amount` of the charge `charge_reference`, once per `idempotency_key` (a
        repeat returns the first result; its reference is the refund's); raise
        PaymentUnavailable when the outcome is unknown."""
        ...


class TestCardProvider:
    """Accept the well-known test card numbers and decline the test "declined" card; anything
    else is refused as not a test card. Moves no money: for demos and tests only.

    It remembers results by idempotency key in this process only (a real provider remembers
    them on its side, for every process): enough for one process's retries and its sweep.
    """

    __test__ = False  # not a pytest test class, despite the name
    name = "test-cards"
    APPROVED = frozenset({"4242424242424242", "5555555555554444", "378282246310005"})
    DECLINED = frozenset({"4000000000000002"})
    # The approved cards' brands, by their first two digits, as a real provider reports them.
    BRANDS: ClassVar[dict[str, str]] = {"42": "Visa", "55": "Mastercard", "37": "American Express"}
    # Bounded so a long-running demo process does not grow without end; a key older than
    # the last 10,000 charges is far past the reservation sweep's age.
    REMEMBERED = 10_000
    _results: ClassVar[OrderedDict[str, PaymentResult]] = OrderedDict()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def charge(
        self, amount: Decimal, reference: str, details: dict[str, str], *, idempotency_key: str
    ) -> PaymentResult:
        with self._lock:
            if idempotency_key in self._results:
                return self._results[idempotency_key]
            result = self._decide(details)
            self._results[idempotency_key] = result
            while len(self._results) > self.REMEMBERED:
                self._results.popitem(last=False)
            return result

    def charge_find(self, idempotency_key: str) -> PaymentResult | None:
        with self._lock:
            return self._results.get(idempotency_key)

    def refund(
        self, charge_reference: str, amount: Decimal, *, idempotency_key: str
    ) -> PaymentResult:
        # Remembered with the charges: a refund's key is never a checkout's token.
        with self._lock:
            if idempotency_key not in self._results:
                self._results[idempotency_key] = PaymentResult(
                    True, reference=f"test_re_{uuid4().hex[:24]}"
                )
            return self._results[idempotency_key]

    def _decide(self, details: dict[str, str]) -> PaymentResult:
        number = "".join(ch for ch in details.get("card_number", "") if ch.isdigit())
        if number in self.APPROVED:
            return PaymentResult(
                True,
                reference=f"test_{uuid4().hex[:24]}",
                card_brand=self.BRANDS[number[:2]],
                card_last4=number[-4:],
            )
        if number in self.DECLINED:
            return PaymentResult(False, message="Your card was declined. Nothing was charged.")
        return PaymentResult(
            False, message="That is not a test card number; try 4242 4242 4242 4242."
        )


def payment_provider() -> PaymentProvider:
    """The configured provider (settings.PAYMENT_PROVIDER)."""
    return import_string(settings.PAYMENT_PROVIDER)()
