"""Helpers for checkout tests: shipping details, carts put straight into the state Redis, and
orders placed through the service."""

from cart import services as cart_services
from cart import store
from orders import services
from orders.models import Order

DETAILS = {
    "email": "grace@example.com",
    "name": "Grace Hopper",
    "address_line1": "1 Harbour Road",
    "address_line2": "",
    "city": "Arlington",
    "postcode": "22201",
    "country": "US",
}
# Address book entries (orders.models.Address fields).
HOME = {"name": "Ada Lovelace", "address_line1": "12 St James's Square", "address_line2": "",
        "city": "London", "postcode": "SW1Y 4JH", "country": "United Kingdom"}  # fmt: skip
WORK = {**HOME, "address_line1": "1 Analytical Row", "city": "Cambridge", "postcode": "CB2 1TN"}
APPROVED_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


def cart_with(owner: str, lines: dict[int, int]) -> None:
    """Give `owner` a cart holding exactly `lines`, added in the order given."""
    cart_services.cart_load(owner)
    for product_id, quantity in lines.items():
        assert store.add(owner, product_id, quantity, store.MAX_QUANTITY) == quantity


def order_for(owner: str, token: str | None = None, **kwargs) -> Order:
    """Place the order of `owner`'s cart as a guest with an approved test card."""
    return services.order_place(
        owner=owner,
        user_id=kwargs.pop("user_id", None),
        details=kwargs.pop("details", DETAILS),
        token=token or services.checkout_token_new(),
        card_number=kwargs.pop("card_number", APPROVED_CARD),
        **kwargs,
    )


def paid_order(user, *products, status: str = Order.Status.PAID) -> Order:
    """An order of one of each product by `user`, recorded as paid (no cart, no charge)."""
    order = Order.objects.create(
        number=f"T{Order.objects.count() + 1:07d}",
        checkout_token=services.checkout_token_new(),
        user=user, status=status,
        **{k: v for k, v in DETAILS.items() if k != "address_line2"},
    )  # fmt: skip
    for product in products:
        order.lines.create(
            product=product, name=product.name, sku=product.sku,
            unit_price=product.price, quantity=1,
        )  # fmt: skip
    return order
