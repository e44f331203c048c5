"""seed_catalog and catalog.demo: shape of the demo catalog, determinism, existing data."""

import hashlib
import importlib
import io
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Avg, Count, Max, Min, Q
from django.utils import timezone
from tqdm import tqdm

from catalog import cache as catalog_cache
from catalog import demo
from catalog import services as catalog_services
from catalog.demo_pictures import Picture
from catalog.images import rendition_name, rendition_widths
from catalog.models import Category, Product, ProductImage, RatingPrior, Review
from catalog.tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from inventory.models import Stock
from shelf import backend
from shelf.core import tag_key

NOUNS_BY_LEAF = {leaf.slug: leaf.nouns for dept in demo.DEPARTMENTS for leaf in dept.leaves}


def seed(products: int, **options) -> str:
    """Seed as `manage.py seed_catalog` does; without variants unless asked for (the tests
    below count the catalog's products and rows; test_variants_seed counts the variants)."""
    out = io.StringIO()
    call_command("seed_catalog", products=products, stdout=out, **({"variants": False} | options))
    return out.getvalue()


def snapshot() -> list[tuple]:
    """What must be equal for equal seeds: identity, price, stock, attributes, images, times."""
    products = list(
        Product.objects.order_by("pk").values_list(
            "pk",
            "sku",
            "name",
            "slug",
            "price",
            "stock__quantity",
            "attributes",
            "category__slug",
            "is_active",
            "rating",
            "review_count",
            "created_at",
        )
    )
    first_created = products[0][-1]
    images: dict[int, list[tuple]] = {}
    for product_id, position, image, alt in ProductImage.objects.order_by(
        "product_id", "position"
    ).values_list("product_id", "position", "image", "alt"):
        images.setdefault(product_id, []).append((position, image, alt))
    # Creation times are relative to the moment of seeding: compare the offsets.
    return [(*row[:-1], row[-1] - first_created, tuple(images.get(row[0], ()))) for row in products]


@pytest.mark.django_db
def test_small_catalog_has_the_promised_shape():
    before = timezone.now()
    output = seed(500)

    departments = Category.objects.filter(parent__isnull=True)
    leaves = Category.objects.filter(parent__isnull=False)
    assert departments.count() == 8
    assert leaves.count() == 42
    assert set(departments.values_list("name", flat=True)) >= {
        "Computers",
        "Phones & Tablets",
        "Audio",
        "Home & Kitchen",
        "Sports & Outdoors",
        "Fashion",
        "Toys & Games",
        "Books",
    }
    assert not leaves.filter(parent__parent__isnull=False).exists()  # exactly two levels
    assert all(c.description.endswith(".") for c in Category.objects.all())
    assert not leaves.annotate(n=Count("children")).filter(n__gt=0).exists()

    assert Product.objects.count() == 500
    assert Product.objects.filter(category__parent__isnull=True).count() == 0
    assert Product.objects.values("slug").distinct().count() == 500
    assert Product.objects.values("sku").distinct().count() == 500

    # Stock: one row per product, 5 % out, 10 % low, the rest 10-500.
    assert Stock.objects.count() == 500
    assert not Product.objects.filter(stock__isnull=True).exists()
    assert Stock.objects.filter(quantity=0).count() == 25
    assert Stock.objects.filter(quantity__range=(1, 9)).count() == 50
    assert Stock.objects.filter(quantity__range=(10, 500)).count() == 425

    # Pictures: one per product, a shared file that exists with its renditions, alt text
    # naming the product.
    per_product = Product.objects.annotate(
        n=Count("images"), low=Min("images__position"), high=Max("images__position")
    )
    counts = Counter(p.n for p in per_product)
    assert set(counts) == {1}
    assert all(p.low == 0 and p.high == 0 for p in per_product)
    names = set(ProductImage.objects.values_list("image", flat=True))
    assert len(names) < ProductImage.objects.count() / 2  # shared by products that look alike
    for name in names:
        assert default_storage.exists(name), name
        for width in rendition_widths(800):
            assert default_storage.exists(rendition_name(name, width)), (name, width)
    assert not ProductImage.objects.exclude(width=800, height=800).exists()
    for image in ProductImage.objects.select_related("product"):
        assert image.product.name in image.alt
    assert not ProductImage.objects.filter(alt__icontains="http").exists()

    # Times: a few in the last day, none older than two years.
    now = timezone.now()
    new = Product.objects.filter(created_at__gte=before - timedelta(days=1)).count()
    assert 1 <= new <= 5
    assert not Product.objects.filter(created_at__lt=now - timedelta(days=731)).exists()
    assert Product.objects.filter(created_at__lt=now - timedelta(days=365)).count() > 50
    assert Product.objects.filter(is_active=False).count() == 10

    # Names a shopper would search for, prices and ratings that look like a shop's.
    for product in Product.objects.select_related("category"):
        assert any(noun in product.name for noun in NOUNS_BY_LEAF[product.category.slug])
        assert product.price > 0
        assert product.price.as_tuple().exponent == -2
        assert Decimal("0.0") <= product.rating <= Decimal("5.0")
        assert product.attributes and all(isinstance(v, str) for v in product.attributes.values())
        assert product.description.count(". ") >= 2
        assert product.brand and product.model
    laptops = Product.objects.filter(category__slug="laptops")
    assert laptops.exists()
    assert all("Laptop" in name for name in laptops.values_list("name", flat=True))
    assert laptops.aggregate(low=Min("price"))["low"] >= Decimal("300")
    assert Product.objects.filter(name__icontains="headphones").exists()
    assert Product.objects.filter(review_count=0, rating=0).exists()

    assert "500 products" in output
    assert "50 categories" in output


@pytest.mark.django_db
def test_sequences_continue_after_the_copied_rows():
    seed(30)
    images = ProductImage.objects.count()
    product = ProductFactory()
    image = ProductImageFactory(product=product)
    assert product.pk == 31
    assert image.pk == images + 1
    assert product.category.pk == 52 and product.category.parent.pk == 51
    assert (image.position, product.stock.quantity) == (0, 25)


@pytest.mark.django_db
def test_same_seed_same_catalog_other_seed_other_catalog():
    seed(300, seed=7)
    first = snapshot()
    seed(300, seed=7, replace=True)
    again = snapshot()
    assert again == first
    assert len(first) == 300

    seed(300, seed=8, replace=True)
    other = snapshot()
    assert [row[2] for row in other] != [row[2] for row in first]
    prices_and_stock = [(row[3], row[4], row[5]) for row in first]
    assert [(row[3], row[4], row[5]) for row in other] != prices_and_stock


def test_generator_is_deterministic_across_processes():
    """String hashing differs between processes; the catalog must not."""

    def digest(seed: int) -> str:
        rows = "\n".join(repr(row) for row in demo.generate_products(400, seed=seed))
        return hashlib.sha256(rows.encode()).hexdigest()

    code = (
        "import django, hashlib; django.setup()\n"
        "from catalog import demo\n"
        "rows = '\\n'.join(repr(r) for r in demo.generate_products(400, seed=3))\n"
        "print(hashlib.sha256(rows.encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == digest(3)
    assert digest(3) != digest(4)


@pytest.mark.django_db
def test_if_empty_leaves_existing_data_alone():
    product = ProductFactory(name="Hand-made Laptop")
    categories = Category.objects.count()

    output = seed(50, if_empty=True)

    assert "Nothing to do" in output
    assert list(Product.objects.values_list("pk", "name")) == [(product.pk, "Hand-made Laptop")]
    assert Category.objects.count() == categories
    assert Stock.objects.count() == 1


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_catalog():
    seed(40, if_empty=True)
    assert Product.objects.count() == 40


@pytest.mark.django_db
def test_refuses_without_a_flag_when_the_catalog_has_data():
    product = ProductFactory()
    with pytest.raises(CommandError) as excinfo:
        seed(50)
    message = str(excinfo.value)
    assert "--replace" in message and "--if-empty" in message
    assert "1 products" in message
    assert list(Product.objects.values_list("pk", flat=True)) == [product.pk]
    assert Category.objects.count() == 2


@pytest.mark.django_db
def test_refuses_when_only_categories_exist():
    CategoryFactory(slug="laptops")  # would clash with the demo tree
    with pytest.raises(CommandError):
        seed(10)
    assert Category.objects.count() == 1


@pytest.mark.django_db
def test_replace_deletes_the_old_catalog():
    image = ProductImageFactory(product=ProductFactory(slug="old-product"))
    seed(60, replace=True)
    assert not Product.objects.filter(slug="old-product").exists()
    assert not Category.objects.filter(pk=image.product.category_id).exists()
    assert Product.objects.count() == 60
    assert Stock.objects.count() == 60
    assert Category.objects.count() == 50


@pytest.mark.django_db
def test_replace_refuses_while_other_rows_reference_products():
    seed(20)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE seed_test_reference (product_id bigint REFERENCES catalog_product (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
        cursor.execute("INSERT INTO seed_test_reference VALUES (3)")
    with pytest.raises(CommandError, match="reference the catalog"):
        seed(20, replace=True, seed=9)
    assert Product.objects.count() == 20
    assert Product.objects.get(pk=3).images.exists()


@pytest.mark.django_db
def test_flags_are_exclusive():
    with pytest.raises(CommandError, match="not allowed with"):
        call_command("seed_catalog", "--products", "10", "--replace", "--if-empty")
    with pytest.raises(CommandError, match="cannot be used together"):
        seed(10, replace=True, if_empty=True)
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_cache_is_told_after_the_commit(django_capture_on_commit_callbacks):
    """Every catalog namespace's generation is bumped in Redis, and only once committed."""
    r = backend.client()
    tags = [tag_key(ns.generation) for ns in catalog_cache.NAMESPACES]
    before = backend.mget(r, tags)
    with django_capture_on_commit_callbacks(execute=True):
        seed(10)
        assert backend.mget(r, tags) == before
    after = backend.mget(r, tags)
    assert all(a != b for a, b in zip(after, before, strict=True)), (before, after)


@pytest.mark.django_db
def test_a_missing_invalidation_function_is_not_an_error(
    monkeypatch, django_capture_on_commit_callbacks
):
    services = importlib.import_module("catalog.services")
    monkeypatch.delattr(services, "catalog_changed_everything", raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        seed(10)
    assert Product.objects.count() == 10


@pytest.mark.django_db
def test_progress_reaches_the_total_on_a_non_tty_stream():
    stream = io.StringIO()  # not a TTY
    with tqdm(total=2500, file=stream, disable=False) as bar:
        summary = demo.seed_catalog(2500, progress=bar.update)
        assert bar.n == 2500
    assert summary.products == 2500
    assert summary.images == ProductImage.objects.count()
    assert summary.out_of_stock == 125 and summary.low_stock == 250
    assert "2500/2500" in stream.getvalue()


@pytest.mark.django_db
def test_every_rating_comes_from_approved_reviews_by_distinct_demo_buyers():
    summary = demo.seed_catalog(600)
    assert summary.reviews == Review.objects.count() > 600
    approved = Q(reviews__status=Review.Status.APPROVED)
    rows = Product.objects.annotate(
        average=Avg("reviews__rating", filter=approved), count=Count("reviews", filter=approved)
    ).values_list("rating", "review_count", "average", "count")
    for rating, review_count, average, count in rows:
        assert review_count == count <= demo.REVIEWS_MAX
        expected = Decimal(average or 0).quantize(Decimal("0.1"), ROUND_HALF_UP)
        assert rating == expected, (rating, average)
    assert Product.objects.filter(review_count=0, rating=0).exists()
    assert not Review.objects.exclude(status=Review.Status.APPROVED).exists()
    assert not Review.objects.exclude(user__username__startswith=demo.DEMO_BUYER_PREFIX).exists()
    assert get_user_model().objects.filter(username__startswith="demo-buyer-").count() == 400
    assert not any(u.has_usable_password() for u in get_user_model().objects.all())
    # Reseeding keeps the buyers and replaces the reviews with the products.
    again = demo.seed_catalog(600, replace=True)
    assert again.reviews == summary.reviews == Review.objects.count()
    assert get_user_model().objects.count() == 400


LEAVES = {leaf.slug: (dept, leaf) for dept in demo.DEPARTMENTS for leaf in dept.leaves}


def test_every_name_is_built_from_its_own_type_s_words():
    """Brand, model and noun of a product all come from its leaf's vocabulary (or its
    department's where the leaf has none): no teddy bear by the brick brand."""
    slugs = {row.id: row.slug for row in demo.build_categories()}
    rows = list(demo.generate_products(3000, seed=11))
    seen = set()
    for row in rows:
        dept, leaf = LEAVES[slugs[row.category_id]]
        seen.add(leaf.slug)
        if dept.books:
            assert any(row.name.endswith(f" {noun} ({row.model})") for noun in leaf.nouns)
            continue
        assert row.brand in (leaf.brands or dept.brands), row.name
        assert row.name.startswith(f"{row.brand} {row.model} "), row.name
        noun = row.name.removeprefix(f"{row.brand} {row.model} ")
        assert noun in leaf.nouns, row.name
        prefixes = leaf.model_prefixes or dept.model_prefixes
        assert any(row.model.startswith(p.strip()) for p in prefixes), row.name
        picture = row.images[0].picture
        assert picture.icon == leaf.icons.get(noun, leaf.icon), row.name
        if row.attributes.get("colour"):
            assert picture.colour == demo.COLOUR_HEX[row.attributes["colour"]], row.name
            assert row.images[0].alt.startswith(row.attributes["colour"]), row.name
    assert seen == set(LEAVES)
    # Several description styles, each naming the product's own things.
    openings = Counter(row.description.split(" ", 2)[1] for row in rows if row.id % 7 == 0)
    assert len(openings) > 5
    assert len({row.description[:12] for row in rows if row.brand == "Hearthly"}) > 3


@pytest.mark.parametrize(
    ("query", "leaf", "word"),
    [("kettle", "kettles", "Kettle"), ("laptop", "laptops", "Laptop"),
     ("running shoes", "running-shoes", "Shoes"), ("headphones", "headphones", "Headphones"),
     ("coffee beans", "coffee", "Beans"), ("novel", "fiction", "Novel")],
)  # fmt: skip
@pytest.mark.django_db
def test_common_searches_find_products_of_that_type(client, query, leaf, word):
    seed(600)
    results = client.get("/api/v1/search", {"q": query}).json()["results"]
    assert len(results) >= 3, query
    top = Product.objects.in_bulk([r["id"] for r in results[:5]])
    first = top[results[0]["id"]]
    assert first.category.slug == leaf and word in first.name, (query, first.name)
    # Mostly that type: "coffee beans" may also find a bean-to-cup coffee machine.
    of_type = [p for p in top.values() if p.category.slug == leaf]
    assert len(of_type) >= 3 and all(word in p.name for p in of_type), query
    assert all(r["image"].endswith(".webp") for r in results), query


def test_prices_fit_the_type():
    slugs = {row.id: row.slug for row in demo.build_categories()}
    for row in demo.generate_products(2000, seed=5):
        _dept, leaf = LEAVES[slugs[row.category_id]]
        low, high = leaf.price
        assert low - 1 <= row.price <= high * Decimal("1.05"), (row.name, row.price)
    assert Picture("kettle", "#c8262c").name == "demo/v1/kettle/c8262c.webp"


@pytest.mark.django_db
def test_scores_are_written_with_the_prior_the_catalog_ends_up_with(settings):
    settings.CATALOG_RATING_PRIOR_WEIGHT = 7
    demo.seed_catalog(300)
    # The refresh that follows a seed finds nothing to rewrite (it used to update every row).
    assert catalog_services.rating_prior_refresh() == 0
    prior = RatingPrior.objects.get(pk=1)
    reviewed = Product.objects.filter(is_active=True, review_count__gt=0)
    mean = sum(p.rating * p.review_count for p in reviewed) / sum(p.review_count for p in reviewed)
    assert prior.weight == 7 and prior.mean == pytest.approx(float(mean))
    product = reviewed.order_by("pk").first()
    expected = (7 * prior.mean + float(product.rating) * product.review_count) / (
        7 + product.review_count
    )
    assert product.rating_score == pytest.approx(expected)


@pytest.mark.django_db
def test_a_seed_whose_pictures_are_on_disk_starts_no_drawing_process(monkeypatch):
    demo.seed_catalog(40)
    pictures = ProductImage.objects.count()  # one a product, and the variants' own colours
    assert pictures >= 40

    def refused():
        raise AssertionError("every picture was on disk already")

    monkeypatch.setattr(demo, "_painter", refused)
    demo.seed_catalog(40, replace=True)
    assert ProductImage.objects.count() == pictures
