"""A deterministic demo catalog: category tree, products, stock, pictures and the approved
reviews of a few hundred demo buyers.

The generator half (``build_categories``, ``generate_products``) is pure Python: the same seed
always yields the same rows, whatever the database holds. The loader half (``seed_catalog``)
writes those rows with PostgreSQL COPY inside one transaction, with explicit primary keys, and
resets the sequences afterwards. COPY sends no model signals, so the loader tells the cache
through ``catalog.services.catalog_changed_everything`` once the transaction commits. The
pictures (one per product type and colour, shared) are drawn by catalog.demo_pictures in
worker processes while the rows are copied, and are all on disk before the commit.

The vocabulary (departments and leaf categories, brands, colours, sizes and the words names
and descriptions are built from) lives in ``catalog/demo_vocabulary.json``, read once at
import; this module keeps the code and the tuning constants (shares, stock). A leaf may have its own
brands, model names, uses and features, so that every name and description reads like its
type's; each product gets one of three description styles.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NamedTuple

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.storage import FileSystemStorage
from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from catalog.demo_pictures import SIZE as PICTURE_SIZE
from catalog.demo_pictures import Picture, pictures_make
from catalog.demo_variants import variants_seed
from catalog.models import Category, Product, ProductImage, Review
from inventory.models import Stock

DEFAULT_SEED = 42
HISTORY_DAYS = 730
DAY = 86_400

# Shares of the catalog; each is an exact quota (rounded), not an independent coin toss, so a
# small catalog still has a few of each.
OUT_OF_STOCK_SHARE = 0.05
LOW_STOCK_SHARE = 0.10
INACTIVE_SHARE = 0.02
NEW_TODAY_SHARE = 0.005
LOW_STOCK_MAX = 9
PICTURE_WORKERS = 2
STOCK_RANGE = (10, 500)
# Every star on a card comes from seeded reviews: at most REVIEWS_MAX per product (about five
# on average, so 98,000 products get about 500,000 short rows, written with COPY), by distinct
# buyers among DEMO_BUYERS accounts that cannot sign in.
REVIEWS_MAX = 12
DEMO_BUYERS = 400
DEMO_BUYER_PREFIX = "demo-buyer-"
REVIEW_TITLES = {
    5: ("Excellent", "Love it", "Exactly what I wanted", "Worth every penny", "Superb"),
    4: ("Very good", "Happy with it", "Does the job well", "Good value", "Solid choice"),
    3: ("It's fine", "Decent", "Does the job", "Mixed feelings", "Average"),
    2: ("Disappointing", "Not great", "Expected more", "Only just works"),
    1: ("Poor", "Would not buy again", "Sent it back", "Not for me"),
}
REVIEW_TEXTS = {
    5: ("Arrived quickly and works perfectly. I would buy this {noun} again.",
        "Better than I hoped: well made and easy to use every day.",
        "Great quality for the price. Recommended to friends already."),
    4: ("Does what it says. One or two small niggles, but I am happy with this {noun}.",
        "Good quality and quick delivery. Not perfect, still a good buy.",
        "Works well; the instructions could be clearer."),
    3: ("It is okay. Nothing special, nothing wrong either.",
        "Fine for the price, though I expected a little more from this {noun}.",
        "Average quality. It does the job."),
    2: ("Not as good as the description suggests.",
        "Works, but feels cheaper than I expected for a {noun}."),
    1: ("Stopped working within a week.", "Not what I expected at all. Returned it."),
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Static data: departments, leaf categories, brands and the words descriptions are built from.
# The words live in demo_vocabulary.json next to this module (one top-level key per constant
# below, in lower case); this section turns them back into the tuples and dataclasses the
# generator uses. Where a list is expected, "$name" or "$name[start:stop]" stands for another
# top-level list of the file, or a slice of it: "$tech_colours", "$ages[2:]".
# ---------------------------------------------------------------------------------------------

VOCABULARY_PATH = Path(__file__).with_name("demo_vocabulary.json")


@dataclass(frozen=True)
class LeafSpec:
    """One leaf category and what its products look like."""

    name: str
    slug: str
    description: str
    nouns: tuple[str, ...]
    price: tuple[int, int]  # whole currency units, drawn log-uniformly
    attributes: dict[str, tuple[str, ...]]
    icon: str  # the silhouette of its pictures (a Material Design Icons slug)
    weight: int = 2  # relative share of the products
    # Where a leaf has its own, they replace its department's: a teddy bear is not made by
    # the brick brand, and a kettle's selling points are not a vacuum cleaner's.
    brands: tuple[str, ...] = ()
    model_prefixes: tuple[str, ...] = ()
    model_suffixes: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    numbered: bool = True  # model names with a number ("Aero 14"), or words only ("Halo")
    icons: dict[str, str] = field(default_factory=dict)  # per noun, where not `icon`
    tints: tuple[str, ...] = ()  # colours of its pictures when a product has no colour


@dataclass(frozen=True)
class DepartmentSpec:
    """A top-level category with its brands, model names and description vocabulary."""

    name: str
    slug: str
    code: str
    description: str
    brands: tuple[str, ...]
    model_prefixes: tuple[str, ...]
    model_suffixes: tuple[str, ...]
    uses: tuple[str, ...]
    features: tuple[str, ...]
    leaves: tuple[LeafSpec, ...]
    books: bool = False


_VOCABULARY: dict[str, Any] = json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))
_REFERENCE = re.compile(r"\$(?P<name>[a-z_]+)(?:\[(?P<start>\d*):(?P<stop>\d*)\])?")


def _words(value: list[str] | str) -> tuple[str, ...]:
    """A list from the data file as a tuple; a "$name[start:stop]" reference is resolved."""
    if isinstance(value, list):
        return tuple(value)
    match = _REFERENCE.fullmatch(value)
    target = _VOCABULARY.get(match["name"]) if match else None
    if not isinstance(target, list):
        raise ValueError(f"{VOCABULARY_PATH.name}: {value!r} does not name a list")
    start, stop = match["start"], match["stop"]
    if start is None:
        return tuple(target)
    return tuple(target[int(start) if start else None : int(stop) if stop else None])


def _leaf(data: dict[str, Any]) -> LeafSpec:
    low, high = data["price"]
    attributes = {key: _words(values) for key, values in data["attributes"].items()}
    lists = ("nouns", "brands", "model_prefixes", "model_suffixes", "uses", "features", "tints")
    return LeafSpec(
        **{
            **data,
            **{key: _words(data[key]) for key in lists if key in data},
            "price": (low, high),
            "attributes": attributes,
        }
    )


def _department(data: dict[str, Any]) -> DepartmentSpec:
    lists = ("brands", "model_prefixes", "model_suffixes", "uses", "features")
    return DepartmentSpec(
        **{
            **data,
            **{key: _words(data[key]) for key in lists},
            "leaves": tuple(_leaf(leaf) for leaf in data["leaves"]),
        }
    )


TECH_COLOURS = _words(_VOCABULARY["tech_colours"])
PHONE_COLOURS = _words(_VOCABULARY["phone_colours"])
BRIGHT_COLOURS = _words(_VOCABULARY["bright_colours"])
FASHION_COLOURS = _words(_VOCABULARY["fashion_colours"])
CLOTHING_SIZES = _words(_VOCABULARY["clothing_sizes"])
SHOE_SIZES = _words(_VOCABULARY["shoe_sizes"])
AGES = _words(_VOCABULARY["ages"])

# The colour each colour or finish name is drawn in.
COLOUR_HEX: dict[str, str] = dict(_VOCABULARY["colour_hex"])

DEPARTMENTS: tuple[DepartmentSpec, ...] = tuple(
    _department(dept) for dept in _VOCABULARY["departments"]
)

ADJECTIVES = _words(_VOCABULARY["adjectives"])
CLOSINGS = _words(_VOCABULARY["closings"])

FIRST_NAMES = _words(_VOCABULARY["first_names"])
LAST_NAMES = _words(_VOCABULARY["last_names"])
# Per book leaf (by slug): title patterns and the word lists their {placeholders} are drawn from.
TITLE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    slug: {key: _words(values) for key, values in words.items()}
    for slug, words in _VOCABULARY["title_words"].items()
}
BOOK_ADJECTIVES = _words(_VOCABULARY["book_adjectives"])
BOOK_HOOKS = _words(_VOCABULARY["book_hooks"])


# ---------------------------------------------------------------------------------------------
# Generated rows
# ---------------------------------------------------------------------------------------------


class DemoCategory(NamedTuple):
    id: int
    name: str
    slug: str
    parent_id: int | None
    description: str
    position: int


class DemoImage(NamedTuple):
    position: int
    picture: Picture
    alt: str


class DemoReview(NamedTuple):
    buyer: int  # index among the demo buyers, 0..DEMO_BUYERS - 1
    rating: int
    title: str
    text: str
    seconds_ago: int


class DemoProduct(NamedTuple):
    """One generated product with its stock and images; times are offsets before 'now'."""

    id: int
    sku: str
    name: str
    slug: str
    brand: str
    model: str
    attributes: dict[str, str]
    description: str
    price: Decimal
    category_id: int
    rating: Decimal
    review_count: int
    is_active: bool
    created_seconds_ago: int
    updated_seconds_ago: int
    stock: int
    images: tuple[DemoImage, ...]
    reviews: tuple[DemoReview, ...] = ()


@dataclass(frozen=True)
class SeedSummary:
    """What ``seed_catalog`` wrote and how long it took."""

    products: int
    images: int
    categories: int
    departments: int
    out_of_stock: int
    low_stock: int
    seconds: float
    replaced_products: int = 0  # products deleted by ``replace=True``
    reviews: int = 0
    variants: int = 0  # variants of the products (catalog.demo_variants), not among them


class CatalogNotEmptyError(Exception):
    """The catalog already holds data and the caller did not ask to replace it."""

    def __init__(self, products: int, categories: int) -> None:
        self.products = products
        self.categories = categories
        super().__init__(
            f"the catalog already holds {products} products and {categories} categories"
        )


class CatalogInUseError(Exception):
    """Other rows still reference the catalog, so it cannot be deleted."""


def build_categories() -> list[DemoCategory]:
    """Return the fixed two-level tree: departments first (ids 1..8), then their leaves."""
    rows: list[DemoCategory] = []
    for position, dept in enumerate(DEPARTMENTS):
        rows.append(
            DemoCategory(position + 1, dept.name, dept.slug, None, dept.description, position)
        )
    next_id = len(DEPARTMENTS) + 1
    for dept_index, dept in enumerate(DEPARTMENTS):
        for position, leaf in enumerate(dept.leaves):
            rows.append(
                DemoCategory(
                    next_id, leaf.name, leaf.slug, dept_index + 1, leaf.description, position
                )
            )
            next_id += 1
    return rows


def _quota(count: int, share: float) -> int:
    """Rows out of ``count`` that get a property held by ``share`` of them; at least one."""
    if count <= 0:
        return 0
    return min(count, max(1, round(count * share)))


def _log_price(rng: random.Random, low: int, high: int) -> Decimal:
    """A shop-like price between low and high: log-uniform, ending in .99, .95, .49 or .00."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    if value >= 200:
        whole = int(round(value / 10) * 10)
    elif value >= 50:
        whole = int(round(value / 5) * 5)
    else:
        whole = max(1, int(value))
    cents = rng.choice((99, 99, 99, 95, 49, 0)) if whole < 1000 else rng.choice((99, 0))
    total = whole * 100 + cents - (100 if cents else 0)
    return Decimal(max(total, 99)).scaleb(-2)


def _rating(rng: random.Random) -> tuple[Decimal, int]:
    """A (rating, review_count) pair: a few unreviewed, most between 3.5 and 4.9."""
    if rng.random() < 0.08:
        return Decimal("0.0"), 0
    reviews = max(1, min(25_000, int(rng.lognormvariate(3.2, 1.3))))
    spread = 1.0 if reviews < 5 else 0.45
    stars = min(5.0, max(1.0, rng.gauss(4.25, spread)))
    return Decimal(round(stars * 10)).scaleb(-1), reviews


def _review_stars(rng: random.Random, rating: Decimal, count: int) -> tuple[Decimal, list[int]]:
    """The stars of a product's seeded reviews, around the rating `_rating` drew, and the
    rating they average to: a few reviews stand for many (1 for 1, 5 for about 24, at most
    REVIEWS_MAX), so the catalog stays quick to seed and every number has reviews behind it."""
    if not count:
        return Decimal("0.0"), []
    kept = min(REVIEWS_MAX, 1 + int(math.log2(count)))
    stars = [min(5, max(1, round(rng.gauss(float(rating), 0.7)))) for _ in range(kept)]
    average = Decimal(sum(stars)) / len(stars)
    return average.quantize(Decimal("0.1"), ROUND_HALF_UP), stars


def _reviews(
    rng: random.Random, stars: list[int], noun: str, created: int
) -> tuple[DemoReview, ...]:
    buyers = rng.sample(range(DEMO_BUYERS), len(stars))
    noun = noun.lower() if not noun[:2].isupper() else noun
    return tuple(
        DemoReview(
            buyer, n, rng.choice(REVIEW_TITLES[n]), rng.choice(REVIEW_TEXTS[n]).format(noun=noun),
            rng.randrange(30, max(31, created)),
        )
        for buyer, n in zip(buyers, stars, strict=True)
    )  # fmt: skip


def _model_name(rng: random.Random, dept: DepartmentSpec, leaf: LeafSpec) -> str:
    """A model name such as 'X15 Pro', 'Aero 14', 'Metro' or 'Heritage 87 Classic'."""
    prefix = rng.choice(leaf.model_prefixes or dept.model_prefixes)
    if not prefix.endswith(" "):
        base = f"{prefix}{rng.randint(2, 99)}"  # "X15", "QC45"
    elif not leaf.numbered or rng.random() < 0.3:
        base = prefix.strip()  # a word on its own: "Metro", "Heritage"
    else:
        base = f"{prefix}{rng.randint(1, 99)}"  # "Aero 14", "Trail 7"
    suffix = rng.choice(leaf.model_suffixes or dept.model_suffixes)
    return f"{base} {suffix}" if suffix else base


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def _book_title(rng: random.Random, leaf: LeafSpec) -> str:
    words = TITLE_WORDS[leaf.slug]
    pattern = rng.choice(words["patterns"])
    values = {key: rng.choice(options) for key, options in words.items() if key != "patterns"}
    title = pattern.format(**values)
    return title[0].upper() + title[1:]


def _goods_text(
    rng: random.Random,
    dept: DepartmentSpec,
    leaf: LeafSpec,
    name: str,
    brand: str,
    model: str,
    noun: str,
    attributes: dict[str, str],
    rating: Decimal,
    reviews: int,
) -> str:
    """A description for a non-book product in one of three styles: a paragraph, a list of
    highlights, or a short spec-led note, from its own type's uses and features."""
    adjective = rng.choice(ADJECTIVES)
    use = rng.choice(leaf.uses or dept.uses)
    noun_l = noun.lower() if not noun[:2].isupper() else noun
    first, second, third = rng.sample(leaf.features or dept.features, 3)
    specs = "; ".join(f"{key} {value}" for key, value in attributes.items())
    closing = rng.choice(CLOSINGS).format(years=rng.choice((1, 2, 3)), brand=brand)
    colour = attributes.get("colour") or attributes.get("finish")
    style = rng.randrange(3)
    if style == 1:
        lines = [
            f"Why you'll like the {model} {noun_l}: "
            f"{'they are' if _plural(noun) else 'it is'} made for {use}.",
            f"Highlights: {first}; {second}; {third}.",
            f"Specifications: {specs}.",
            closing,
        ]
        return " ".join(lines)
    if style == 2:
        lines = [
            f"{brand}'s {adjective} {noun_l}{f' in {colour.lower()}' if colour else ''}.",
            f"{specs[0].upper()}{specs[1:]}.",
            f"{first[0].upper()}{first[1:]}, and {second}.",
            closing,
        ]
        return " ".join(lines)
    opening = rng.choice(
        (
            f"The {name} is {_article(adjective)} {adjective} {noun_l} from {brand}, "
            f"made for {use}.",
            f"Meet the {model} {noun_l}: {brand}'s {adjective} pick for {use}.",
            f"{brand} designed the {model} {noun_l} for {use}.",
        )
    )
    features = rng.choice(
        (
            f"It comes with {first} and {second}.",
            f"Highlights include {first} and {second}.",
            f"You get {first}, plus {second}.",
        )
    )
    sentences = [opening, features, f"Specifications: {specs}."]
    if colour:
        sentences.append(f"This one is finished in {colour.lower()}.")
    if reviews >= 10 and rating >= Decimal("4.0"):
        sentences.append(f"Shoppers rate it {rating} out of 5 across {reviews:,} reviews.")
    sentences.append(closing)
    return " ".join(sentences)


def _book_text(
    rng: random.Random,
    title: str,
    author: str,
    publisher: str,
    noun: str,
    fmt: str,
    pages: str,
) -> str:
    """A paragraph of description for a book."""
    adjective = rng.choice(BOOK_ADJECTIVES)
    return " ".join(
        (
            f"{title} is {_article(adjective)} {adjective} {noun.lower()} by {author}.",
            rng.choice(BOOK_HOOKS),
            f"This {fmt.lower()} edition runs to {pages} pages and is published by {publisher}.",
            rng.choice(CLOSINGS[2:4]),
        )
    )


def _image(
    rng: random.Random, leaf: LeafSpec, noun: str, name: str, attributes: dict[str, str]
) -> DemoImage:
    """The product's picture: its type in its colour (or finish, or one of its type's tints).

    One picture per product: each is drawn once per type and colour and shared (see
    catalog.demo_pictures), and a second view would double the first seed's drawing.
    """
    own = attributes.get("colour")
    alt = f"{own} {name}" if own and own.lower() not in name.lower() else name
    looks = [attributes.get(key) for key in ("colour", "finish", "material")]
    colour = next((c for c in looks if c in COLOUR_HEX), None) or rng.choice(
        leaf.tints or ("Graphite",)
    )
    return DemoImage(0, Picture(leaf.icons.get(noun, leaf.icon), COLOUR_HEX[colour]), alt)


def generate_products(count: int, seed: int = DEFAULT_SEED) -> Iterator[DemoProduct]:
    """Yield ``count`` products with ids 1..count; the same seed always yields the same rows.

    Category ids match ``build_categories()``. Stock levels, inactive products and brand-new
    products are exact quotas (5 %, 10 %, 2 %, 0.5 %) spread at random over the catalog.
    """
    rng = random.Random(seed)
    # Reviews draw from their own generator, so the rest of the catalog is what it was before
    # reviews were seeded.
    review_rng = random.Random(f"{seed}:reviews")
    categories = build_categories()
    leaf_rows = [row for row in categories if row.parent_id is not None]
    leaves: list[tuple[DepartmentSpec, LeafSpec, int]] = []
    for dept in DEPARTMENTS:
        for leaf in dept.leaves:
            leaves.append((dept, leaf, leaf_rows[len(leaves)].id))
    cum_weights: list[int] = []
    total = 0
    for _, leaf, _ in leaves:
        total += leaf.weight
        cum_weights.append(total)

    order = list(range(count))
    rng.shuffle(order)
    out_count = _quota(count, OUT_OF_STOCK_SHARE)
    low_count = min(count - out_count, _quota(count, LOW_STOCK_SHARE))
    out_of_stock = set(order[:out_count])
    low_stock = set(order[out_count : out_count + low_count])
    inactive = set(rng.sample(range(count), round(count * INACTIVE_SHARE)))
    new_today = set(rng.sample(range(count), _quota(count, NEW_TODAY_SHARE)))

    seen_names: set[str] = set()
    slug_counts: dict[str, int] = {}
    history = HISTORY_DAYS * DAY
    for index in range(count):
        dept, leaf, category_id = rng.choices(leaves, cum_weights=cum_weights)[0]
        brand = rng.choice(leaf.brands or dept.brands)
        noun = rng.choice(leaf.nouns)
        attributes = {key: rng.choice(values) for key, values in leaf.attributes.items()}
        for _attempt in range(8):
            if dept.books:
                model = rng.choice(dept.model_prefixes)
                title = _book_title(rng, leaf)
                name = f"{title}: {_article(noun).capitalize()} {noun} ({model})"
            else:
                model = _model_name(rng, dept, leaf)
                name = f"{brand} {model} {noun}"
            if name not in seen_names:
                break
        seen_names.add(name)
        base_slug = slugify(name)[:200]
        duplicates = slug_counts.get(base_slug, 0)
        slug_counts[base_slug] = duplicates + 1
        slug = base_slug if not duplicates else f"{base_slug}-{duplicates + 1}"

        rating, stars = _review_stars(review_rng, *_rating(rng))
        reviews = len(stars)
        price = _log_price(rng, *leaf.price)
        if dept.books:
            author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            attributes = {"author": author, "format": model, **attributes, "language": "English"}
            description = _book_text(rng, title, author, brand, noun, model, attributes["pages"])
        else:
            description = _goods_text(
                rng, dept, leaf, name, brand, model, noun, attributes, rating, reviews
            )

        if index in out_of_stock:
            stock = 0
        elif index in low_stock:
            stock = rng.randint(1, LOW_STOCK_MAX)
        else:
            stock = rng.randint(*STOCK_RANGE)
        if index in new_today:
            created = rng.randrange(60, DAY)
        else:
            created = DAY + int((history - DAY) * rng.random() ** 1.3)
        updated = int(created * rng.random() ** 2)

        product_id = index + 1
        yield DemoProduct(
            id=product_id,
            sku=f"SH-{dept.code}-{product_id:07d}",
            name=name,
            slug=slug,
            brand=brand,
            model=model,
            attributes=attributes,
            description=description,
            price=price,
            category_id=category_id,
            rating=rating,
            review_count=reviews,
            is_active=index not in inactive,
            created_seconds_ago=created,
            updated_seconds_ago=updated,
            stock=stock,
            images=(_image(rng, leaf, noun, name, attributes),),
            reviews=_reviews(review_rng, stars, noun, created),
        )


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

CATALOG_MODELS: tuple[type[Model], ...] = (Review, ProductImage, Stock, Product, Category)


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(model: type[Model], fields: Sequence[str]) -> str:
    return ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in fields
    )


def _copy_sql(model: type[Model], fields: Sequence[str], table: str | None = None) -> str:
    return f"COPY {table or _table(model)} ({_columns(model, fields)}) FROM STDIN"


# The products are copied into this table first (no triggers, no indexes), so that the "Top
# rated" prior can be computed from them before they reach catalog_product: its trigger then
# writes every rating_score with the prior the catalog will have, and the refresh after the
# commit (catalog.services.rating_prior_refresh) has no score to change. It used to rewrite
# every row (each index, the GIN one too): 1.5 to 4 s of a 20,000-product seed, and a table
# twice its size until vacuumed.
_STAGING = "seed_product"
# The formula of catalog.services._PRIOR_SQL (the mean rating of all active products' reviews),
# over the staged rows.
_PRIOR_SQL = f"""
INSERT INTO catalog_ratingprior (id, mean, weight, updated_at)
SELECT 1, coalesce(sum(rating * review_count) / nullif(sum(review_count), 0), 0), %s, now()
FROM {_STAGING} WHERE is_active
ON CONFLICT (id) DO UPDATE
SET mean = EXCLUDED.mean, weight = EXCLUDED.weight, updated_at = EXCLUDED.updated_at
"""


def catalog_counts() -> tuple[int, int]:
    """Return (products, categories) currently in the database."""
    return Product.objects.count(), Category.objects.count()


def delete_catalog() -> None:
    """Delete images, stock, products and categories with plain SQL (no signals, no cascade).

    Raises CatalogInUseError if rows of other tables still reference products or categories.
    Must run inside a transaction.
    """
    with connection.cursor() as cursor:
        for model in CATALOG_MODELS:
            cursor.execute(f"DELETE FROM {_table(model)}")
        try:
            # Foreign keys are deferred; check them now to name the problem, then defer again.
            with transaction.atomic():
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except IntegrityError as exc:
            raise CatalogInUseError(
                f"other rows still reference the catalog, so it cannot be replaced: {exc}"
            ) from exc
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _write_rows(sql: str, rows: Iterable[Sequence[object]]) -> None:
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _notify_catalog_changed() -> None:
    """Call catalog.services.catalog_changed_everything() if that function exists."""
    try:
        services = importlib.import_module("catalog.services")
    except ModuleNotFoundError as exc:
        if exc.name != "catalog.services":
            raise
        return
    changed = getattr(services, "catalog_changed_everything", None)
    if changed is not None:
        changed()


def demo_buyers() -> list[tuple[int, str]]:
    """(user id, name shown) of the demo buyers, created the first time (accounts that cannot
    sign in: their password is unusable)."""
    users = get_user_model()
    names = [f"{DEMO_BUYER_PREFIX}{n:03d}" for n in range(DEMO_BUYERS)]
    unusable = make_password(None)
    users.objects.bulk_create(
        [
            users(username=name, first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
                  last_name=LAST_NAMES[(n * 7) % len(LAST_NAMES)], password=unusable)
            for n, name in enumerate(names)
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    found = {
        u: (pk, f"{first} {last[:1]}.")
        for pk, u, first, last in users.objects.filter(username__in=names).values_list(
            "pk", "username", "first_name", "last_name"
        )
    }
    return [found[name] for name in names]


def _painter() -> ProcessPoolExecutor:
    """Processes that draw the demo pictures while this one writes rows: the seed mostly
    waits for PostgreSQL, so the drawing costs little time on a machine with two cores."""
    return ProcessPoolExecutor(
        max_workers=PICTURE_WORKERS, mp_context=get_context("spawn"), initializer=django.setup
    )


def seed_catalog(
    products: int,
    seed: int = DEFAULT_SEED,
    *,
    replace: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
    with_variants: bool = True,
) -> SeedSummary:
    """Load a demo catalog of ``products`` products in one transaction and return a summary.

    Raises CatalogNotEmptyError if products or categories exist and ``replace`` is false;
    with ``replace`` the existing catalog is deleted first. ``progress`` is called with the
    number of products written since its last call. The cache is told once the data commits.
    """
    if products < 0:
        raise ValueError("products must be zero or more")
    started = time.perf_counter()
    now = now or timezone.now()
    media_root = str(settings.MEDIA_ROOT)
    categories = build_categories()
    image_rows: list[tuple[int, int, int, str, int, int, str]] = []
    pictures: set[Picture] = set()
    drawn: list[Future] = []
    stock_rows: list[tuple[int, int, datetime]] = []
    out_of_stock = low_stock = 0
    review_rows: list[tuple] = []
    with ExitStack() as stack, transaction.atomic():
        with connection.cursor() as cursor:
            # A seed is one long transaction, its product COPY one statement: the shop's
            # statement_timeout (DATABASE_STATEMENT_TIMEOUT, 30 s) cancelled 20,000 products
            # on a loaded machine. LOCAL: it ends with this transaction.
            cursor.execute("SET LOCAL statement_timeout = 0")
        buyers = demo_buyers()
        with connection.cursor() as cursor:
            tables = ", ".join(_table(model) for model in CATALOG_MODELS)
            # Writers wait, readers keep reading the old catalog until the commit; a second
            # seeder waits here instead of failing on a duplicate key.
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        existing_products, existing_categories = catalog_counts()
        replaced = bool(existing_products or existing_categories)
        if replaced:
            if not replace:
                raise CatalogNotEmptyError(existing_products, existing_categories)
            delete_catalog()

        _write_rows(
            _copy_sql(Category, ("id", "name", "slug", "parent", "description", "position")),
            categories,
        )
        product_fields = (
            "id", "sku", "name", "slug", "brand", "model", "attributes", "description", "price",
            "category", "rating", "review_count", "is_active", "created_at", "updated_at",
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGING} "
                f"(LIKE {_table(Product)} INCLUDING DEFAULTS)"
            )
        product_sql = _copy_sql(Product, product_fields, _STAGING)
        pending = 0
        painter: ProcessPoolExecutor | None = None
        on_disk = FileSystemStorage(location=media_root)
        with connection.cursor() as cursor, cursor.copy(product_sql) as copy:
            for row in generate_products(products, seed):
                updated_at = now - timedelta(seconds=row.updated_seconds_ago)
                copy.write_row(
                    (
                        row.id,
                        row.sku,
                        row.name,
                        row.slug,
                        row.brand,
                        row.model,
                        json.dumps(row.attributes, ensure_ascii=False),
                        row.description,
                        row.price,
                        row.category_id,
                        row.rating,
                        row.review_count,
                        row.is_active,
                        now - timedelta(seconds=row.created_seconds_ago),
                        updated_at,
                    )
                )
                stock_rows.append((row.id, row.stock, updated_at))
                if row.stock == 0:
                    out_of_stock += 1
                elif row.stock <= LOW_STOCK_MAX:
                    low_stock += 1
                for image in row.images:
                    picture = image.picture
                    image_rows.append(
                        (len(image_rows) + 1, row.id, image.position, picture.name,
                         PICTURE_SIZE, PICTURE_SIZE, image.alt)
                    )  # fmt: skip
                    if picture not in pictures:
                        pictures.add(picture)
                        # The drawing processes start at the first picture not on disk yet
                        # (none on a reseed: their start-up, about 1 s of CPU each, is saved).
                        if not on_disk.exists(picture.name):
                            if painter is None:
                                painter = stack.enter_context(_painter())
                            drawn.append(painter.submit(pictures_make, [picture], media_root))
                for review in row.reviews:
                    user_id, author = buyers[review.buyer]
                    review_rows.append(
                        (row.id, user_id, author, review.rating, review.title, review.text,
                         Review.Status.APPROVED.value, now - timedelta(seconds=review.seconds_ago))
                    )  # fmt: skip
                pending += 1
                if progress is not None and pending == 1000:
                    progress(pending)
                    pending = 0
        if progress is not None and pending:
            progress(pending)
        columns = _columns(Product, product_fields)
        with connection.cursor() as cursor:
            cursor.execute(_PRIOR_SQL, [settings.CATALOG_RATING_PRIOR_WEIGHT])
            cursor.execute(
                f"INSERT INTO {_table(Product)} ({columns}) SELECT {columns} FROM {_STAGING}"
            )
            # Dropped here, not ON COMMIT: a seed inside an outer transaction (the tests')
            # may run again before that one ends.
            cursor.execute(f"DROP TABLE {_STAGING}")
        _write_rows(_copy_sql(Stock, ("product", "quantity", "updated_at")), stock_rows)
        _write_rows(
            _copy_sql(
                ProductImage, ("id", "product", "position", "image", "width", "height", "alt")
            ),
            image_rows,
        )
        review_fields = ("product", "user", "author", "rating", "title", "text", "status",
                         "created_at")  # fmt: skip
        _write_rows(_copy_sql(Review, review_fields), review_rows)
        # Sizes, colours and storage for some clothing, shoes and electronics.
        variants = variants_seed(seed, now, len(image_rows) + 1) if with_variants else None
        for picture in variants.pictures - pictures if variants else ():
            pictures.add(picture)
            if not on_disk.exists(picture.name):
                if painter is None:
                    painter = stack.enter_context(_painter())
                drawn.append(painter.submit(pictures_make, [picture], media_root))
        for future in drawn:  # every picture is on disk before its rows are committed
            future.result()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Category, Product, ProductImage]
            ):
                cursor.execute(sql)
            # Fresh planner statistics, so the first queries after a load get sensible plans.
            cursor.execute(f"ANALYZE {', '.join(_table(model) for model in CATALOG_MODELS)}")
        transaction.on_commit(_notify_catalog_changed)
    return SeedSummary(
        products=products,
        images=len(image_rows) + (variants.images if variants else 0),
        categories=len(categories),
        departments=sum(1 for row in categories if row.parent_id is None),
        out_of_stock=out_of_stock,
        low_stock=low_stock,
        seconds=time.perf_counter() - started,
        replaced_products=existing_products if replaced else 0,
        reviews=len(review_rows),
        variants=variants.variants if variants else 0,
    )


def vacuum_catalog() -> bool:
    """VACUUM the catalog tables after a replace; return False inside a transaction (no-op).

    A replace leaves the old rows dead; where autovacuum is off or slow they would pile up
    with every reseed.
    """
    if connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(_table(model) for model in CATALOG_MODELS)}")
    return True
