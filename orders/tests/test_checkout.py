"""Checkout through the real pages: details, review, place, order pages, email, bad input."""

import re
import threading
from decimal import Decimal

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django_redis import get_redis_connection

from cart import services as cart_services
from cart import store
from cart.models import Cart
from catalog.selectors import product_get_many
from catalog.tests.factories import ProductFactory
from inventory.models import Stock
from inventory.selectors import stock_get_many
from orders import services, tasks
from orders.models import Order, Payment
from orders.payments import PaymentUnavailable, TestCardProvider
from orders.selectors import lines_priced
from orders.tests.factories import APPROVED_CARD, DECLINED_CARD, DETAILS, cart_with, order_for
from shelf.core import NAMESPACES

pytestmark = pytest.mark.django_db(transaction=True)
SHIPPING = Decimal("4.95")


@pytest.fixture(autouse=True)
def _shipping(settings):
    settings.ORDER_SHIPPING_FEE = SHIPPING


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Desk Lamp", sku="LAMP-1", price=Decimal("30.00"))


@pytest.fixture
def kettle():
    return ProductFactory(name="Steel Kettle", sku="KETTLE-1", price=Decimal("12.50"))


def add(client: Client, product, quantity: int = 1) -> None:
    response = client.post("/cart/add/", {"product": product.pk, "quantity": quantity})
    assert response.status_code == 302


def review_form(client: Client) -> dict[str, str]:
    """The hidden fields of the review page's "Place order" form."""
    body = client.get("/checkout/review/").content.decode()
    return dict(re.findall(r'type="hidden" name="(token|seen_total)" value="([^"]*)"', body))


def place(client: Client, card=APPROVED_CARD, form=None, follow=False, **extra):
    """Press "Place order" on the review page (or post `form` as it), adding `extra` fields."""
    data = {**(form if form is not None else review_form(client)), "card_number": card, **extra}
    return client.post("/checkout/place/", data, follow=follow)


def shop_as_guest(*lines) -> Client:
    client = Client()
    for product, quantity in lines:
        add(client, product, quantity)
    assert client.post("/checkout/", DETAILS).status_code == 302
    return client


def owner_of(client: Client) -> str:
    return f"s:{client.session[cart_services.SESSION_KEY]}"


def test_a_guest_checks_out_and_gets_the_order_page_and_one_email(lamp, kettle):
    client = shop_as_guest((lamp, 2), (kettle, 1))
    owner = owner_of(client)
    review = client.get("/checkout/review/").content.decode()
    assert "Brass Desk Lamp" in review and "$60.00" in review and "$77.45" in review
    response = place(client)
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == f"/orders/{order.number}/"
    assert re.fullmatch(r"SH-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", order.number)
    assert (order.user, order.email, order.status) == (None, DETAILS["email"], Order.Status.PAID)
    assert (order.subtotal, order.shipping, order.total) == (
        Decimal("72.50"), SHIPPING, Decimal("77.45"),
    )  # fmt: skip
    assert sorted(order.lines.values_list("name", "sku", "unit_price", "quantity")) == [
        ("Brass Desk Lamp", "LAMP-1", Decimal("30.00"), 2),
        ("Steel Kettle", "KETTLE-1", Decimal("12.50"), 1),
    ]
    payment = Payment.objects.get(order=order)
    assert (payment.provider, payment.amount, payment.status) == (
        "test-cards", Decimal("77.45"), Payment.Status.APPROVED,
    )  # fmt: skip
    assert payment.reference.startswith("test_") and "4242" not in payment.reference
    # Only what the provider answered about the card is kept: its brand and last four digits.
    assert (payment.card_brand, payment.card_last4) == ("Visa", "4242")
    stored = [str(v) for v in Payment.objects.filter(pk=payment.pk).values().get().values()]
    assert not any("42424242" in v for v in stored)
    assert Stock.objects.get(product=lamp).quantity == 23
    page = client.get(response.url).content.decode()
    assert order.number in page and "Thank you!" in page and "$77.45" in page
    assert "Paid $77.45 with Visa ending 4242." in page and payment.reference not in page
    # The cart is emptied, and the write-behind records the empty cart.
    assert store.lines_of(store.read(owner)) == {}
    cart_services.carts_sync_dirty()
    assert not Cart.objects.get(owner=owner).lines.exists()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [DETAILS["email"]] and order.number in email.subject
    assert "2 x Brass Desk Lamp (LAMP-1) at $30.00: $60.00" in email.body
    assert "Paid with Visa ending 4242." in email.body and payment.reference not in email.body
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None


def test_the_confirmation_task_sends_nothing_the_second_time(lamp):
    client = shop_as_guest((lamp, 1))
    place(client)
    order = Order.objects.get()
    assert len(mail.outbox) == 1
    from orders.tasks import send_order_confirmation

    assert send_order_confirmation.delay(order.pk).result is False  # eager: see search tests
    assert services.order_confirmation_send(order.pk) is False
    assert len(mail.outbox) == 1


def test_a_logged_in_shopper_sees_only_their_own_orders(lamp, kettle):
    users = get_user_model().objects
    alice = users.create_user("alice", "alice@example.com", "pw-alice-123")
    bob = users.create_user("bob", "bob@example.com", "pw-bob-12345")
    clients = {}
    for user, product in ((alice, lamp), (bob, kettle)):
        clients[user.username] = client = Client()
        client.force_login(user)
        add(client, product)
        form = client.get("/checkout/").content.decode()
        assert f'value="{user.email}"' in form, "the account's email is filled in"
        client.post("/checkout/", {**DETAILS, "email": user.email})
        assert place(client).status_code == 302
    alices, bobs = Order.objects.get(user=alice), Order.objects.get(user=bob)
    listing = clients["alice"].get("/orders/").content.decode()
    assert alices.number in listing and bobs.number not in listing
    assert clients["alice"].get(f"/orders/{alices.number}/").status_code == 200
    assert clients["alice"].get(f"/orders/{bobs.number}/").status_code == 404
    assert Client().get("/orders/").url.startswith("/accounts/login/")


def test_a_guest_cannot_open_another_shoppers_order(lamp):
    buyer = shop_as_guest((lamp, 1))
    place(buyer)
    number = Order.objects.get().number
    assert buyer.get(f"/orders/{number}/").status_code == 200
    stranger = Client()
    response = stranger.get(f"/orders/{number}/")
    assert response.status_code == 404 and number not in response.content.decode()
    assert Client().get("/orders/SH-2222-2222/").status_code == 404
    assert stranger.get("/orders/" + "X" * 500 + "/").status_code == 404


def test_a_double_submitted_checkout_creates_one_order(lamp):
    client = shop_as_guest((lamp, 1))
    form = review_form(client)
    first, second = place(client, form=form), place(client, form=form)
    assert first.url == second.url
    assert Order.objects.count() == 1 and Payment.objects.count() == 1
    assert Stock.objects.get(product=lamp).quantity == 24


def test_two_tabs_share_one_checkout(lamp):
    client = shop_as_guest((lamp, 1))
    tab1, tab2 = review_form(client), review_form(client)
    assert tab1 == tab2
    assert place(client, form=tab1).url == place(client, form=tab2).url
    assert Order.objects.count() == 1


@pytest.mark.repeat(10)
def test_concurrent_double_submits_create_one_order(lamp):
    client = shop_as_guest((lamp, 1))
    form = review_form(client)
    barrier = threading.Barrier(4)
    urls = []

    def submit():
        tab = Client()
        tab.cookies = client.cookies
        barrier.wait()
        try:
            urls.append(place(tab, form=form).url)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    number = Order.objects.get().number
    assert urls == [f"/orders/{number}/"] * 4
    assert Payment.objects.count() == 1 and Stock.objects.get(product=lamp).quantity == 24


def test_a_price_changed_since_the_cart_is_shown_and_the_order_uses_the_new_one(lamp):
    client = shop_as_guest((lamp, 2))
    client.get("/checkout/")  # the prices the shopper saw with the cart
    lamp.price = Decimal("35.00")
    lamp.save()
    review = client.get("/checkout/review/").content.decode()
    assert "Prices changed since you viewed your cart" in review
    assert "Brass Desk Lamp: was $30.00, now $35.00" in review
    place(client)
    order = Order.objects.get()
    assert order.lines.get().unit_price == Decimal("35.00")
    assert order.total == Decimal("70.00") + SHIPPING


def test_a_price_changed_after_the_review_is_confirmed_again_before_charging(lamp):
    client = shop_as_guest((lamp, 1))
    form = review_form(client)
    assert form["seen_total"] == "34.95"
    lamp.price = Decimal("40.00")
    lamp.save()
    response = place(client, form=form, follow=True)
    assert Order.objects.count() == 0 and Payment.objects.count() == 0
    assert "The total changed from $34.95 to $44.95" in response.content.decode()
    assert Stock.objects.get(product=lamp).quantity == 25
    place(client)
    assert Order.objects.get().total == Decimal("44.95")


def test_tampered_prices_and_quantities_in_the_post_are_ignored(lamp):
    client = shop_as_guest((lamp, 2))
    form = review_form(client)
    response = place(
        client, form=form, price="0.01", unit_price="0.01", quantity="99", total="0.01",
        **{f"quantity_{lamp.pk}": "50"},
    )  # fmt: skip
    assert response.status_code == 302
    line = Order.objects.get().lines.get()
    assert (line.unit_price, line.quantity) == (Decimal("30.00"), 2)


@pytest.mark.parametrize("seen_total", ["0.01", "-5", "abc", "NaN", "1e999", "", "9" * 40])
def test_a_tampered_seen_total_never_places_an_order_or_fails(lamp, seen_total):
    client = shop_as_guest((lamp, 1))
    form = {**review_form(client), "seen_total": seen_total}
    response = place(client, form=form, follow=True)
    assert response.status_code == 200
    assert Order.objects.count() == 0 and Stock.objects.get(product=lamp).quantity == 25


@pytest.mark.parametrize("token", ["", "x" * 65, "someone-elses-token"])
def test_a_missing_or_unknown_token_never_places_an_order(lamp, token):
    client = shop_as_guest((lamp, 1))
    form = {**review_form(client), "token": token}
    response = place(client, form=form, follow=True)
    assert response.status_code == 200
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"address_line1": "   "}, "address_line1"),
        ({"city": "x" * 101}, "city"),
        ({"address_line1": "y" * 201}, "address_line1"),
        ({"postcode": "1" * 21}, "postcode"),
        ({"email": "grace@example.com\r\nBcc: all@example.com"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"country": "\x00"}, "country"),
    ],
)
def test_bad_shipping_details_are_errors_next_to_the_field(lamp, change, field):
    client = Client()
    add(client, lamp)
    response = client.post("/checkout/", {**DETAILS, **change})
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(rf'<div class="field has-error">\s*<label for="id_{field}"', body), body
    assert client.get("/checkout/review/").url == "/checkout/"


def test_line_breaks_in_shipping_details_become_spaces(lamp):
    client = Client()
    add(client, lamp)
    details = {**DETAILS, "name": "Grace\r\nHopper", "address_line1": "1 Harbour\nRoad\r\n"}
    assert client.post("/checkout/", details).status_code == 302
    place(client)
    order = Order.objects.get()
    assert (order.name, order.address_line1) == ("Grace Hopper", "1 Harbour Road")


def test_an_empty_cart_cannot_be_checked_out(lamp):
    client = Client()
    response = client.get("/checkout/", follow=True)
    assert response.redirect_chain[-1][0] == "/cart/"
    assert "Your cart is empty." in response.content.decode()
    assert client.post("/checkout/", DETAILS).url == "/cart/"
    assert client.get("/checkout/review/").url == "/checkout/"
    # A cart emptied in another tab between the review and "Place order".
    client = shop_as_guest((lamp, 1))
    form = review_form(client)
    client.post("/cart/remove/", {"product": lamp.pk})
    response = place(client, form=form, follow=True)
    assert response.status_code == 200 and "Your cart is empty." in response.content.decode()
    assert Order.objects.count() == 0


def test_get_on_the_place_order_url_is_405(lamp):
    client = shop_as_guest((lamp, 1))
    assert client.get("/checkout/place/").status_code == 405
    assert Client().get("/checkout/place/").status_code == 405


def test_place_without_details_goes_back_to_the_details_form(lamp):
    client = Client()
    add(client, lamp)
    assert place(client, form={"token": "t", "seen_total": "1.00"}).url == "/checkout/"


def test_the_cart_shows_the_shipping_and_total_the_review_charges(lamp, kettle, settings):
    settings.ORDER_SHIPPING_FEE = Decimal("6.40")
    client = shop_as_guest((lamp, 1), (kettle, 2))
    cart = client.get("/cart/").content.decode()
    details = client.get("/checkout/").content.decode()
    review = client.get("/checkout/review/").content.decode()
    for page in (cart, details, review):
        assert "<dt>Shipping</dt><dd>$6.40</dd>" in page and "$61.40</dd>" in page
    place(client)
    assert Order.objects.get().shipping == Decimal("6.40")


def test_a_sold_out_line_sends_the_shopper_back_before_the_address_form(lamp, kettle):
    client = Client()
    add(client, lamp, 2)
    add(client, kettle, 1)
    stock = Stock.objects.get(product=lamp)
    stock.quantity = 0
    stock.save()
    response = client.get("/checkout/")
    assert response.status_code == 302 and response.url == "/cart/"
    assert client.post("/checkout/", DETAILS).url == "/cart/"
    assert "checkout_details" not in client.session


def test_a_short_line_is_refused_with_what_is_left_and_nothing_taken(lamp, kettle):
    client = shop_as_guest((lamp, 3), (kettle, 1))
    form = review_form(client)
    Stock.objects.filter(product=lamp).update(quantity=2)
    response = place(client, form=form, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == "/cart/"
    assert "Brass Desk Lamp is only 2 left (you asked for 3)" in body
    assert "Nothing was ordered or charged." in body
    assert Order.objects.count() == 0 and Payment.objects.count() == 0
    assert Stock.objects.get(product=kettle).quantity == 25, "no line was reserved"


def test_the_review_warns_about_short_and_withdrawn_lines(lamp, kettle):
    client = shop_as_guest((lamp, 3), (kettle, 1))
    Stock.objects.filter(product=lamp).update(quantity=1)
    kettle.is_active = False
    kettle.save()
    body = client.get("/checkout/review/").content.decode()
    assert "Only 1 left" in body and "No longer for sale" in body
    assert "Place order" not in body
    response = place(client, form={"token": client.session["checkout_token"],
                                   "seen_total": "0"}, follow=True)  # fmt: skip
    assert "No longer for sale: Steel Kettle" in response.content.decode()
    assert Order.objects.count() == 0


def test_a_product_of_a_category_made_inactive_is_no_longer_for_sale(lamp, kettle):
    kettle.category.is_active = False
    kettle.category.save()
    priced = lines_priced({lamp.pk: 1, kettle.pk: 2})
    assert [(line.name, line.active) for line in priced.lines] == [
        ("Brass Desk Lamp", True), ("Steel Kettle", False)
    ]
    assert not priced.orderable and priced.subtotal == Decimal("30.00")


@pytest.mark.parametrize(
    "card, message",
    [
        (DECLINED_CARD, "Your card was declined"),
        ("4111 1111 1111 1111", "not a test card number"),
    ],
)
def test_a_refused_card_places_nothing(lamp, card, message):
    client = shop_as_guest((lamp, 1))
    response = place(client, card=card, follow=True)
    assert message in response.content.decode()
    # The reservation is kept as a record of the attempt, never shown as an order.
    attempt = Order.objects.get()
    assert attempt.status == Order.Status.FAILED and not attempt.payments.exists()
    assert Stock.objects.get(product=lamp).quantity == 25, "the reserved unit went back"
    assert client.get(f"/orders/{attempt.number}/").status_code == 404
    assert store.lines_of(store.read(owner_of(client))) == {lamp.pk: 1}, "the cart stays"
    place(client)
    assert Order.objects.exclude(pk=attempt.pk).get().status == Order.Status.PAID


class AnswerLostOnceProvider(TestCardProvider):
    """Charges, but the first answer is lost on the way back (a read timeout)."""

    __test__ = False
    lost = 0

    def charge(self, amount, reference, details, *, idempotency_key):
        result = super().charge(amount, reference, details, idempotency_key=idempotency_key)
        if not AnswerLostOnceProvider.lost:
            AnswerLostOnceProvider.lost += 1
            raise PaymentUnavailable("read timed out")
        return result


def test_a_lost_payment_answer_is_explained_and_placing_again_charges_once(lamp, settings):
    settings.PAYMENT_PROVIDER = f"{__name__}.AnswerLostOnceProvider"
    AnswerLostOnceProvider.lost = 0
    client = shop_as_guest((lamp, 1))
    form = review_form(client)
    response = place(client, form=form, follow=True)
    assert response.status_code == 200
    assert "We could not reach the payment service" in response.content.decode()
    assert Order.objects.get().status == Order.Status.PENDING, "kept reserved for the retry"
    assert Stock.objects.get(product=lamp).quantity == 24
    response = place(client, form=form)  # "Place order" again, as the message says
    order = Order.objects.get()
    assert response.url == f"/orders/{order.number}/" and order.status == Order.Status.PAID
    assert Payment.objects.count() == 1 and Stock.objects.get(product=lamp).quantity == 24


@pytest.mark.parametrize("card", ["", "abcd", "4242", "4" * 24, "4242\r\n4242 4242 4242"])
def test_a_malformed_card_number_is_a_form_error(lamp, card):
    client = shop_as_guest((lamp, 1))
    response = place(client, card=card)
    assert response.status_code == 200
    assert "card number" in response.content.decode().lower()
    assert Order.objects.count() == 0


def test_test_card_provider_approves_test_cards_and_declines_the_decline_card():
    provider = TestCardProvider()
    card = {"card_number": "4242424242424242"}
    approved = provider.charge(Decimal("10.00"), "SH-1", card, idempotency_key="k-ok")
    assert approved.approved and approved.reference.startswith("test_")
    decline = {"card_number": "4000000000000002"}
    declined = provider.charge(Decimal("10.00"), "SH-1", decline, idempotency_key="k-no")
    assert not declined.approved and "declined" in declined.message
    assert not provider.charge(Decimal("1"), "SH-1", {}, idempotency_key="k-none").approved
    assert (declined.card_brand, declined.card_last4) == ("", "")


@pytest.mark.parametrize(
    "card, shown",
    [
        ("4242 4242 4242 4242", "Visa ending 4242"),
        ("5555 5555 5555 4444", "Mastercard ending 4444"),
        ("3782 822463 10005", "American Express ending 0005"),
    ],
)
def test_the_order_page_shows_the_card_the_provider_charged(lamp, card, shown):
    client = shop_as_guest((lamp, 1))
    url = place(client, card=card).url
    assert f"with {shown}." in client.get(url).content.decode()
    payment = Payment.objects.get()
    assert payment.card == shown and len(payment.card_last4) == 4


def test_test_card_provider_charges_an_idempotency_key_once():
    provider = TestCardProvider()
    card = {"card_number": "4242424242424242"}
    first = provider.charge(Decimal("10.00"), "SH-1", card, idempotency_key="k-once")
    again = TestCardProvider().charge(Decimal("10.00"), "SH-1", card, idempotency_key="k-once")
    other = provider.charge(Decimal("10.00"), "SH-1", card, idempotency_key="k-other")
    assert again == first and other.reference != first.reference
    assert provider.charge_find("k-once") == first and provider.charge_find("k-never") is None


def test_order_pages_are_rendered_per_visitor_and_show_status_changes(lamp):
    client = shop_as_guest((lamp, 1))
    url = place(client).url
    assert "Paid" in client.get(url).content.decode()
    Order.objects.update(status=Order.Status.SHIPPED)
    assert "Shipped" in client.get(url).content.decode()


def test_admin_shows_orders_with_read_only_lines_and_payments(lamp):
    client = shop_as_guest((lamp, 2))
    place(client)
    order = Order.objects.get()
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client()
    staff.force_login(admin)
    assert order.number in staff.get("/admin/orders/order/").content.decode()
    # Bookmarks from when orders were part of the shop app still lead to them.
    old = staff.get(f"/admin/shop/order/{order.pk}/change/?_changelist_filters=status%3Dpaid")
    assert old.status_code == 301
    assert old["Location"] == (
        f"/admin/orders/order/{order.pk}/change/?_changelist_filters=status%3Dpaid"
    )
    page = staff.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Brass Desk Lamp" in page and "LAMP-1" in page and "test-cards" in page
    assert 'name="lines-0-quantity"' not in page and 'name="status"' in page
    assert 'name="total"' not in page
    assert staff.get("/admin/orders/order/add/").status_code == 403
    response = staff.post(
        f"/admin/orders/order/{order.pk}/change/",
        {"status": "shipped", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "1",
         "payments-TOTAL_FORMS": "1", "payments-INITIAL_FORMS": "1", "total": "0.01"},
    )  # fmt: skip
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED and order.total == Decimal("64.95")


def test_an_order_leaves_the_product_page_warm_with_the_new_level(django_assert_num_queries):
    product = ProductFactory(stock__quantity=12)
    client = Client()
    url = f"/p/{product.slug}/"
    client.get(url)
    client.get(url)
    product_get_many([product.pk])  # the card entry too, as a listing would have left it
    card_key = NAMESPACES["catalog.product"].key(product.pk)
    product_entry = get_redis_connection("default").get(card_key)
    assert product_entry is not None
    cart_with("s:buyer", {product.pk: 5})
    order_for("s:buyer")
    with django_assert_num_queries(0):
        assert stock_get_many([product.pk]) == {product.pk: 7}  # written through
        body = client.get(url).content.decode()
    assert "Only 7 left" in body
    assert get_redis_connection("default").get(card_key) == product_entry, (
        "a sale does not touch the product entry"
    )


def test_confirmation_task_still_runs_under_its_name_from_the_shop_app(lamp):
    client = shop_as_guest((lamp, 1))
    place(client)
    order = Order.objects.get()
    Order.objects.update(confirmation_sent_at=None)
    mail.outbox.clear()
    assert tasks.send_order_confirmation.name == "orders.tasks.send_order_confirmation"
    old = current_app.tasks["shop.tasks.send_order_confirmation"]
    assert old.apply(args=[order.pk]).get() is True  # a message queued before the upgrade
    assert len(mail.outbox) == 1 and order.number in mail.outbox[0].subject
    assert "shop.tasks.order_confirmations_sweep" in current_app.tasks
