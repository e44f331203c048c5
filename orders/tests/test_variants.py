"""Variants sold: the cart, checkout and reservations work per variant (each is a product of its
own), and concurrent checkouts of one variant's last units never oversell it."""

from collections import Counter

import pytest
from django.test import Client

from cart.selectors import cart_get
from catalog.models import Product
from catalog.selectors import product_get
from catalog.tests.factories import shirt_with_variants
from inventory.models import Stock
from inventory.selectors import stock_get_many
from orders.models import OrderLine
from orders.selectors import lines_priced
from orders.tests.factories import cart_with, order_for
from orders.tests.threads import run_threads

pytestmark = pytest.mark.django_db

def test_the_cart_refuses_the_product_itself_and_takes_a_variant():
    parent, (_s, _mr, medium_blue, _xl) = shirt_with_variants()
    client = Client()
    client.post("/cart/add/", {"product": parent.pk, "quantity": 1})
    response = client.post("/cart/add/", {"product": medium_blue.pk, "quantity": 2}, follow=True)
    body = response.content.decode()
    assert "choose one of its options" in body
    owner = f"s:{client.session['cart']}"
    cart = cart_get(owner)
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(medium_blue.pk, 2)]
    line = cart.lines[0]
    assert line.product["name"] == "Loomwell Crew T-Shirt (M / Blue)"
    assert str(line.unit_price) == "25.00" and line.stock == 3
    # Its link leads to the parent's page with it chosen.
    assert client.get(f"/p/{line.product['slug']}/").status_code == 301


def test_checkout_prices_and_reserves_the_variant():
    parent, (small, _mr, medium_blue, _xl) = shirt_with_variants()
    priced = lines_priced({small.pk: 1, medium_blue.pk: 1})
    assert [str(line.unit_price) for line in priced.lines] == ["20.00", "25.00"]
    cart_with("s:variant-buyer", {small.pk: 1, medium_blue.pk: 3})
    order = order_for("s:variant-buyer")
    assert {(line.sku, line.quantity) for line in order.lines.all()} == {
        (small.sku, 1),
        (medium_blue.sku, 3),
    }
    assert Stock.objects.get(product=small).quantity == 4
    assert Stock.objects.get(product=medium_blue).quantity == 0
    assert Stock.objects.get(product=parent).quantity == 0


def test_a_variant_of_an_inactive_product_is_not_sold():
    parent, (small, *_rest) = shirt_with_variants()
    Product.objects.filter(pk=parent.pk).update(is_active=False)
    assert product_get(small.pk) is None
    assert [line.active for line in lines_priced({small.pk: 1}).lines] == [False]


SHOPPERS = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_of_one_variants_last_units_never_oversell_it():
    """Twelve shoppers at once for the 3 units of M / Blue, each also buying one S / Red (5
    units): exactly three orders go through; the other variants and the product's own row
    are untouched, and the shelf shows PostgreSQL's levels, the product's as their sum."""
    parent, (small, medium_red, medium_blue, extra_large) = shirt_with_variants()
    owners = [f"s:variant-{i}" for i in range(SHOPPERS)]
    for owner in owners:
        cart_with(owner, {medium_blue.pk: 1, small.pk: 1})
    results = run_threads(SHOPPERS, lambda i: order_for(owners[i]).number)
    assert Counter(kind for kind, _ in results) == {"ok": 3, "refused": SHOPPERS - 3}, results
    for kind, detail in results:
        if kind == "refused":
            assert "Loomwell Crew T-Shirt (M / Blue) is out of stock" in detail
    levels = dict(Stock.objects.values_list("product_id", "quantity"))
    assert levels[medium_blue.pk] == 0 and levels[small.pk] == 2
    assert levels[medium_red.pk] == 0 and levels[extra_large.pk] == 40 and levels[parent.pk] == 0
    assert OrderLine.objects.filter(product=medium_blue).count() == 3
    assert stock_get_many([medium_blue.pk, small.pk, parent.pk]) == {
        medium_blue.pk: 0,
        small.pk: 2,
        parent.pk: 42,
    }


def test_a_buyer_of_a_variant_may_review_its_product():
    from orders.selectors import has_bought
    from orders.tests.factories import paid_order
    from shop.tests.factories import UserFactory

    parent, (_s, _mr, medium_blue, _xl) = shirt_with_variants()
    buyer, other = UserFactory(), UserFactory()
    paid_order(buyer, medium_blue)
    assert has_bought(buyer.pk, parent.pk) and has_bought(buyer.pk, medium_blue.pk)
    assert not has_bought(other.pk, parent.pk)
