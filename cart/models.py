from django.conf import settings
from django.db import models


class Cart(models.Model):
    """The last synced state of a cart held in the state Redis (see cart.store).

    `owner` is "u:<user id>" or "s:<anonymous token>"; `version` is the Redis cart's version
    at the last sync, so an older sync can never overwrite a newer one.
    """

    owner = models.CharField(max_length=80, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cart {self.owner} v{self.version}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE)
    quantity = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cart_line_unique"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=99), name="cart_line_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"
