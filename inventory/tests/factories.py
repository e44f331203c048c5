"""factory-boy factories for inventory."""

import factory
from factory.django import DjangoModelFactory

from inventory.models import Stock


class StockFactory(DjangoModelFactory):
    """Stock for a new product (created without its own Stock row), 25 units by default."""

    class Meta:
        model = Stock

    product = factory.SubFactory("catalog.tests.factories.ProductFactory", stock=None)
    quantity = 25
