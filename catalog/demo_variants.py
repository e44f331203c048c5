"""Variants for the demo catalog: sizes and colours of some clothing and shoes, storage (with
its own price) and colours of some phones, tablets and laptops.

Run by catalog.demo.seed_catalog once its products, stock and pictures are written, in the
same transaction: it reads those products back, gives a share of them variants (each a
product row of its own with its stock and, for another colour, its own picture), takes the
options' values out of the product's own attributes and its units off its own stock row (it
is sold through its variants), and re-indexes the products' search
documents, which hold their variants' SKUs and values. Deterministic: the same seed and
catalog give the same variants. The variants' ids follow the catalog's, so the product ids
the catalog's other generator gives are unchanged.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.db import connection
from django.utils.text import slugify

from catalog.demo_pictures import SIZE as PICTURE_SIZE
from catalog.demo_pictures import Picture
from catalog.models import Product, ProductImage
from catalog.variants import option_values_text
from inventory.models import Stock

# A fifth of the products of the leaves below get variants (about 4,000 products and 30,000
# variants in the 100,000-product demo catalog); the rest stay sold as they are.
SHARE = 0.2
_VOCABULARY = json.loads(Path(__file__).with_name("demo_vocabulary.json").read_text("utf-8"))
COLOUR_HEX: dict[str, str] = _VOCABULARY["colour_hex"]


@dataclass(frozen=True)
class Kind:
    """How a leaf's products vary: `sizes` a run of `runs` values of this list (None: no
    size), `priced` the attribute whose values cost more each step up (storage, memory),
    `colours` the colours to draw the others from, `extra_colours` how many others."""

    size_key: str | None
    sizes: tuple[str, ...]
    runs: tuple[int, int]
    colours: tuple[str, ...]
    extra_colours: tuple[int, int]
    priced: str | None = None
    step: Decimal = Decimal("0.15")


_CLOTHES = Kind("size", tuple(_VOCABULARY["clothing_sizes"]), (4, 6),
                tuple(_VOCABULARY["fashion_colours"]), (1, 2))  # fmt: skip
_SHOES = Kind("size", tuple(_VOCABULARY["shoe_sizes"]), (5, 8),
              tuple(_VOCABULARY["fashion_colours"]), (0, 1))  # fmt: skip
_PHONES = Kind(None, (), (2, 3), tuple(_VOCABULARY["phone_colours"]), (1, 2), priced="storage")
_TECH = Kind(None, (), (2, 3), tuple(_VOCABULARY["tech_colours"]), (1, 2), priced="storage")
_LAPTOPS = Kind(None, (), (2, 3), tuple(_VOCABULARY["tech_colours"]), (0, 1), priced="memory",
                step=Decimal("0.12"))  # fmt: skip
KINDS = {
    "t-shirts": _CLOTHES, "jackets-coats": _CLOTHES,
    "sneakers": _SHOES, "boots": _SHOES, "running-shoes": _SHOES,
    "smartphones": _PHONES, "tablets": _TECH, "laptops": _LAPTOPS,
}  # fmt: skip
_LEAF_VALUES = {
    leaf["slug"]: leaf["attributes"] for dept in _VOCABULARY["departments"]
    for leaf in dept["leaves"]
}  # fmt: skip


@dataclass
class Made:
    """What `variants_seed` wrote, and the pictures its rows name (to draw before the commit)."""

    products: int = 0
    variants: int = 0
    images: int = 0
    pictures: set[Picture] = field(default_factory=set)


def _values_of(leaf: str, key: str) -> list[str]:
    values = _LEAF_VALUES[leaf][key]
    if isinstance(values, str):  # a "$name" reference to a shared list
        return list(_VOCABULARY[values.lstrip("$").split("[")[0]])
    return list(values)


def _run(rng: random.Random, values: list[str], own: str | None, length: int) -> list[str]:
    """`length` neighbouring values of `values` around the product's own, in their order."""
    length = min(length, len(values))
    at = values.index(own) if own in values else rng.randrange(len(values))
    start = max(0, min(at - rng.randrange(length), len(values) - length))
    return values[start : start + length]


def _stock(rng: random.Random, product_units: int) -> int:
    """A variant's units, in the spirit of its product's: none if it was sold out, a few if it
    was low, otherwise mostly plenty with some sizes low or gone."""
    if product_units == 0:
        return 0
    if product_units < 10:
        return rng.choice((0, 0, 1, 2, 3))
    draw = rng.random()
    return 0 if draw < 0.08 else rng.randint(1, 9) if draw < 0.2 else rng.randint(10, 120)


def _price(base: Decimal, steps: int, step: Decimal) -> Decimal | None:
    """A larger storage or memory costs more; the smallest costs the product's price (None)."""
    if not steps:
        return None
    return (base * (1 + step * steps)).quantize(Decimal("1")) - Decimal("0.01")


_PRODUCTS_SQL = """
SELECT p.id, p.sku, p.slug, p.name, p.brand, p.model, p.price, p.attributes, p.category_id,
       c.slug, p.created_at, coalesce(s.quantity, 0),
       (SELECT i.image FROM catalog_productimage i WHERE i.product_id = p.id
        ORDER BY i.position LIMIT 1)
FROM catalog_product p
JOIN catalog_category c ON c.id = p.category_id
LEFT JOIN inventory_stock s ON s.product_id = p.id
WHERE c.slug = ANY(%s) AND p.parent_id IS NULL
ORDER BY p.id
"""


def _copy(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def variants_seed(seed: int, now: datetime, next_image_id: int) -> Made:
    """Give a share of the clothing, shoes, phones, tablets and laptops variants; return what
    was made. Runs inside seed_catalog's transaction, after its products, stock and pictures
    (whose ids the new pictures follow: `next_image_id`)."""
    with connection.cursor() as cursor:
        cursor.execute(_PRODUCTS_SQL, [sorted(KINDS)])
        products = cursor.fetchall()
        cursor.execute("SELECT coalesce(max(id), 0) FROM catalog_product")
        (next_id,) = cursor.fetchone()
    rng = random.Random(f"{seed}:variants")
    made = Made()
    rows, stock_rows, image_rows, parents = [], [], [], {}
    for (pid, sku, slug, name, brand, model, price, attributes, category_id, leaf, created,
         units, image) in products:  # fmt: skip
        if rng.random() >= SHARE:
            continue
        kind = KINDS[leaf]
        # Django has psycopg hand jsonb over as text.
        attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
        options, axes = [], []
        if kind.size_key:
            options.append("Size")
            sizes = list(kind.sizes)
            axes.append(_run(rng, sizes, attributes.get("size"), rng.randint(*kind.runs)))
        if kind.priced:
            options.append(kind.priced.capitalize())
            values = _values_of(leaf, kind.priced)
            axes.append(_run(rng, values, attributes.get(kind.priced), rng.randint(*kind.runs)))
        own = attributes.get("colour") or rng.choice(kind.colours)
        others = [c for c in kind.colours if c != own]
        colours = [own, *rng.sample(others, rng.randint(*kind.extra_colours))]
        options.append("Colour")
        axes.append(colours)
        icon = image.split("/")[2] if image and image.startswith("demo/") else None
        parents[pid] = (options, [k for k in (kind.size_key, kind.priced, "colour") if k])
        combos = [[]]
        for axis in axes:
            combos = [[*c, v] for c in combos for v in axis]
        for n, values in enumerate(combos):
            next_id += 1
            option_values = dict(zip(options, values, strict=True))
            steps = 0
            if kind.priced:  # the price steps up along the priced option's values
                at = options.index(kind.priced.capitalize())
                steps = axes[at].index(values[at])
            variant_sku = f"{sku}-{n + 1:02d}"
            label = option_values_text(options, option_values)
            rows.append((
                next_id, variant_sku, f"{name} ({label})"[:200],
                f"{slug}-{slugify(variant_sku)}"[:220], brand, model, "{}", "",
                _price(price, steps, kind.step), category_id, Decimal("0.0"), 0, True, created,
                now, pid, json.dumps(option_values, ensure_ascii=False),
            ))  # fmt: skip
            stock_rows.append((next_id, _stock(rng, units), now))
            colour = option_values["Colour"]
            if icon and colour != own and colour in COLOUR_HEX:
                picture = Picture(icon, COLOUR_HEX[colour])
                made.pictures.add(picture)
                image_rows.append((next_image_id + len(image_rows), next_id, 0, picture.name,
                                   PICTURE_SIZE, PICTURE_SIZE, f"{colour} {name}"))  # fmt: skip
    if not rows:
        return made
    _copy(Product, ("id", "sku", "name", "slug", "brand", "model", "attributes", "description",
                    "price", "category", "rating", "review_count", "is_active", "created_at",
                    "updated_at", "parent", "option_values"), rows)  # fmt: skip
    _copy(Stock, ("product", "quantity", "updated_at"), stock_rows)
    _copy(ProductImage, ("id", "product", "position", "image", "width", "height", "alt"),
          image_rows)  # fmt: skip
    with connection.cursor() as cursor:
        # The products' options, out of their own attributes (a variant says its size now),
        # and their search documents, which now hold their variants' SKUs and values.
        cursor.execute(
            """
            UPDATE catalog_product p
            SET variant_options = v.options, attributes = p.attributes - v.keys
            FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, options jsonb, keys text[])
            WHERE p.id = v.id
            """,
            [json.dumps([{"id": pid, "options": options, "keys": keys}
                         for pid, (options, keys) in parents.items()])],
        )  # fmt: skip
        # A product with variants is sold through them: it holds no units itself.
        cursor.execute(
            "UPDATE inventory_stock SET quantity = 0 WHERE product_id = ANY(%s)", [list(parents)]
        )
        cursor.execute(
            """
            UPDATE catalog_product SET search_vector = catalog_product_search_document(
                id, sku, name, brand, description, category_id)
            WHERE id = ANY(%s)
            """,
            [list(parents)],
        )
    made.products, made.variants, made.images = len(parents), len(rows), len(image_rows)
    return made
