from django.db import models


class Stock(models.Model):
    """Units on hand for one product; PostgreSQL refuses a quantity below zero."""

    product = models.OneToOneField(
        "catalog.Product", primary_key=True, related_name="stock", on_delete=models.CASCADE
    )
    quantity = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="stock_never_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity}"
