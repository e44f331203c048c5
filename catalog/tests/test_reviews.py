"""Reviews: written by buyers, moderated in the admin, shown from the shelf."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_redis import get_redis_connection

from catalog.cache import REVIEWS
from catalog.models import Product, Review
from orders.tests.factories import paid_order
from shop.tests.factories import UserFactory

from .factories import ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def product():
    return ProductFactory(name="Nordvik X1 Laptop", slug="nordvik-x1", rating=0, review_count=0)


@pytest.fixture
def buyer(product):
    user = UserFactory(username="grace", first_name="Grace")
    paid_order(user, product)
    return user


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _write(client: Client, slug: str, **fields):
    data = {"rating": 5, "title": "Fast and light", "text": "I use it every day."} | fields
    return client.post(f"/p/{slug}/review/", data)


def _staff() -> Client:
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


def _approve(staff: Client, *reviews: Review):
    return staff.post(
        "/admin/catalog/review/",
        {"action": "approve", "_selected_action": [r.pk for r in reviews]},
    )


def test_a_buyers_review_shows_after_approval_with_the_rating_on_every_page(
    product, buyer, django_assert_num_queries
):
    shopper = Client()
    urls = [f"/p/{product.slug}/", f"/api/v1/products/{product.pk}", f"/c/{product.category.slug}/"]
    for url in urls:
        shopper.get(url)
    assert "No reviews yet" in shopper.get(urls[0]).content.decode()

    response = _write(_signed_in(buyer), product.slug)
    assert response.status_code == 302 and response["Location"] == f"/p/{product.slug}/"
    review = Review.objects.get()
    assert (review.status, review.author, review.rating) == ("pending", "Grace", 5)
    # Waiting for moderation: shoppers see nothing yet, and the warm page was not expired.
    with django_assert_num_queries(0):
        assert "Fast and light" not in shopper.get(urls[0]).content.decode()

    assert _approve(_staff(), review).status_code == 302
    review.refresh_from_db()
    assert review.status == "approved"
    assert Product.objects.values_list("rating", "review_count").get(pk=product.pk) == (5, 1)
    page = shopper.get(urls[0]).content.decode()
    assert "Fast and light" in page and "I use it every day." in page and "Grace" in page
    assert "Customer reviews (1)" in page and "5.0" in page
    assert shopper.get(urls[1]).json()["reviews"] == 1
    assert shopper.get(urls[1]).json()["rating"] == 5.0
    assert "(1<span" in shopper.get(urls[2]).content.decode()


def test_a_warm_product_page_with_reviews_runs_no_sql(product, django_assert_num_queries):
    for n in range(3):
        ReviewFactory(product=product, title=f"Opinion {n}")
    client = Client()
    client.get(f"/p/{product.slug}/")
    with django_assert_num_queries(0):
        page = client.get(f"/p/{product.slug}/").content.decode()
    assert all(f"Opinion {n}" in page for n in range(3))


def test_reviews_are_newest_first_and_paged_with_bounded_entries(
    product, django_assert_num_queries
):
    now = timezone.now()
    for n in range(23):
        at = now - timedelta(hours=n)
        ReviewFactory(product=product, title=f"Opinion {n:02d}", created_at=at)
    ReviewFactory(product=product, title="Not approved", status=Review.Status.PENDING)
    client = Client()
    first = client.get(f"/p/{product.slug}/").content.decode()
    titles = re.findall(r"Opinion (\d\d)", first)
    assert titles == [f"{n:02d}" for n in range(10)], "the ten newest, newest first"
    assert "Not approved" not in first and "Page 1 of 3" in first
    assert f'href="/p/{product.slug}/reviews/?page=2"' in first
    second = client.get(f"/p/{product.slug}/reviews/?page=2").content.decode()
    assert re.findall(r"Opinion (\d\d)", second) == [f"{n:02d}" for n in range(10, 20)]
    last = client.get(f"/p/{product.slug}/reviews/?page=3").content.decode()
    assert re.findall(r"Opinion (\d\d)", last) == ["20", "21", "22"]
    with django_assert_num_queries(0):
        assert client.get(f"/p/{product.slug}/reviews/?page=2").status_code == 200
    r = get_redis_connection("default")
    for bad in ("4", "99999", "0", "x", "²"):
        assert client.get(f"/p/{product.slug}/reviews/?page={bad}").status_code == 404, bad
    assert r.exists(REVIEWS.key(f"{product.pk}:3"))
    assert not r.exists(REVIEWS.key(f"{product.pk}:4"))
    assert not r.exists(REVIEWS.key(f"{product.pk}:99999"))
    assert client.get("/p/no-such-product/reviews/").status_code == 404


def test_an_approved_review_edited_in_the_admin_shows_at_the_next_request(product):
    review = ReviewFactory(product=product, title="First words")
    client = Client()
    assert "First words" in client.get(f"/p/{product.slug}/").content.decode()
    review.title = "Second thoughts"
    review.save()
    assert "Second thoughts" in client.get(f"/p/{product.slug}/").content.decode()
    review.delete()
    product.refresh_from_db()
    assert (product.rating, product.review_count) == (0, 0)
    assert "No reviews yet" in client.get(f"/p/{product.slug}/").content.decode()


def test_hostile_review_text_is_escaped(product, buyer):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    _write(_signed_in(buyer), product.slug, title=hostile, text=hostile)
    _approve(_staff(), Review.objects.get())
    page = Client().get(f"/p/{product.slug}/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_refused_reviews_are_form_errors_and_change_nothing(product, buyer):
    client = _signed_in(buyer)
    for rating in (0, 6, "five", ""):
        response = _write(client, product.slug, rating=rating)
        assert response.status_code == 200
        assert "Choose a rating from 1 to 5 stars." in response.content.decode() or (
            rating == "" and "This field is required." in response.content.decode()
        )
    assert not Review.objects.exists()

    assert _write(client, product.slug).status_code == 302
    second = _write(client, product.slug, title="Again")
    assert second.status_code == 200
    assert "You have already reviewed this product." in second.content.decode()
    assert Review.objects.count() == 1

    stranger = UserFactory(username="mallory")
    other = ProductFactory()
    paid_order(stranger, other)  # a buyer, of something else
    refused = _write(_signed_in(stranger), product.slug)
    assert refused.status_code == 200
    assert "Only shoppers who bought this product can review it." in refused.content.decode()
    failed = UserFactory(username="trudy")
    paid_order(failed, product, status="failed")  # declined: never bought
    assert "Only shoppers who bought" in _write(_signed_in(failed), product.slug).content.decode()
    assert Review.objects.count() == 1


def test_writing_a_review_needs_signing_in_and_a_real_product(product):
    response = Client().get(f"/p/{product.slug}/review/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    user = UserFactory()
    assert _signed_in(user).get("/p/no-such-thing/review/").status_code == 404
    assert _signed_in(user).get(f"/p/{product.slug}/review/").status_code == 200


def test_admin_reject_of_an_approved_review_takes_it_off_the_rating(product):
    kept = ReviewFactory(product=product, rating=5)
    dropped = ReviewFactory(product=product, rating=2)
    product.refresh_from_db()
    assert (str(product.rating), product.review_count) == ("3.5", 2)
    staff = _staff()
    staff.post("/admin/catalog/review/", {"action": "reject", "_selected_action": [dropped.pk]})
    product.refresh_from_db()
    assert (str(product.rating), product.review_count) == ("5.0", 1)
    assert kept.title in Client().get(f"/p/{product.slug}/").content.decode()
