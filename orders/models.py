"""Orders, their lines and payments. A placed order is a record: its lines copy the product's
name, sku and price at that moment, so later catalog changes never rewrite history."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse


class Order(models.Model):
    class Status(models.TextChoices):
        # Stock reserved, payment not yet confirmed: between the steps of order_place, or left
        # by a process that died there until the reservation sweep settles it.
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"
        # Never placed: the charge was declined or never made, and the stock was given back.
        # Kept as a record of the attempt; shoppers never see it.
        FAILED = "failed", "Not placed"

    number = models.CharField(max_length=16, editable=False)
    # One per review of the cart: a second submit of the same checkout finds this order.
    checkout_token = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="orders",
        # An order outlives its shopper's account: it is a record of a sale.
        on_delete=models.SET_NULL,
    )
    email = models.EmailField()
    name = models.CharField(max_length=100)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    country = models.CharField(max_length=60)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    shipping = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        # The table keeps the name it had when orders lived in the shop app (no data moves).
        db_table = "shop_order"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["checkout_token"], name="order_checkout_token_unique"),
            models.CheckConstraint(
                condition=models.Q(subtotal__gte=0, shipping__gte=0, total__gte=0),
                name="order_totals_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="order_user_recent"),
            # The reservation sweep's query: few rows, so a small partial index.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="order_pending",
            ),
            # The confirmation sweep's query: few rows, so a small partial index.
            models.Index(
                fields=["created_at"],
                condition=models.Q(confirmation_sent_at=None),
                name="order_confirmation_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:order", kwargs={"number": self.number})


# Statuses of a checkout that is not (or not yet) an order: hidden from shoppers and sweeps.
UNPLACED = (Order.Status.PENDING, Order.Status.FAILED)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    # Kept for links and reports; the snapshot below is what the order says.
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=32)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()

    class Meta:
        db_table = "shop_orderline"
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_line_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class Payment(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        REFUNDED = "refunded", "Refunded"

    order = models.ForeignKey(Order, related_name="payments", on_delete=models.PROTECT)
    provider = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices)
    # The provider's id for the charge; never card data. Staff use it, shoppers never see it.
    reference = models.CharField(max_length=80)
    # As the provider reported the card charged, for the shopper's receipt; never the number.
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "shop_payment"

    def __str__(self) -> str:
        return f"{self.provider} {self.reference} {self.amount}"

    @property
    def card(self) -> str:
        """The card as a shopper knows it: "Visa ending 4242" (empty if the provider did not
        say)."""
        if not self.card_last4:
            return self.card_brand
        return f"{self.card_brand or 'Card'} ending {self.card_last4}"


class Address(models.Model):
    """A shipping address in a shopper's address book; the default one fills checkout."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, related_name="addresses", on_delete=models.CASCADE
    )
    name = models.CharField("full name", max_length=100)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    country = models.CharField(max_length=60)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        constraints = [
            # One default per shopper, whatever two requests do at once.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="address_one_default"
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="address_user_recent")]

    def __str__(self) -> str:
        return f"{self.name}, {self.address_line1}, {self.city}"
