"""What the benchmark's shoppers do: a seeded, pure-Python description of the workload.

No Django and no locust here, so the mix and the distributions can be tested on their own and
two runs with the same seed and catalog send the same requests (bench/locustfile.py sends them).

- 65% product pages, products drawn from a Zipf distribution (s = 1.1) over every active
  product; which product has which rank is a seeded shuffle, unrelated to id, rating or price.
- 15% category pages: any category, mostly the first page in the default order.
- 15% searches, queries drawn from a Zipf distribution (s = 1.1) over a vocabulary of about
  2,000 queries made of the catalog's own words (see build_vocabulary), most common first.
- 4% cart adds of the last product the shopper viewed that was in stock.
- 1% checkouts through the real flow: details, review, place with the test card.

A shopper is a visit: anonymous or signed in (a session prepared by the benchmark), with its
own cookies, for a geometric number of actions (mean VISIT_ACTIONS); then a new visit begins.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ZIPF_S = 1.1
MIX: tuple[tuple[str, int], ...] = (
    ("product", 65),
    ("category", 15),
    ("search", 15),
    ("cart_add", 4),
    ("checkout", 1),
)
VOCABULARY_SIZE = 2000
# Share of visits that are signed in, and the mean length of a visit in actions.
SIGNED_IN_SHARE = 0.3
VISIT_ACTIONS = 40
CATEGORY_PAGES = ((1, 70), (2, 20), (3, 10))
CATEGORY_SORTS = (("", 70), ("price", 10), ("-price", 10), ("new", 10))
TEST_CARD = "4242 4242 4242 4242"
# The password of the shoppers' accounts bench-0001... (bench/prepare.py makes them).
BENCH_PASSWORD = "bench-shopper-pass"
# How many of the most frequent queries the search-hit measurements send: few enough that a
# short warm-up caches them all, many enough not to be one key.
SEARCH_HITS = 30
# How many of the most popular product pages the product-hit measurements send: all of them
# fit in every process's L1 (about 20 KB each), as the hottest pages of a real shop do.
PRODUCT_HITS = 1000

_WORD = re.compile(r"^[a-z][a-z'-]*$")
_STOPWORDS = frozenset({"a", "an", "and", "for", "in", "of", "on", "the", "to", "with"})


class Zipf:
    """Ranks 0..n-1 drawn with probability proportional to 1 / (rank + 1) ** s."""

    def __init__(self, n: int, s: float = ZIPF_S) -> None:
        if n < 1:
            raise ValueError("a Zipf distribution needs at least one item")
        self.n, self.s = n, s
        self.cumulative = list(itertools.accumulate((k + 1) ** -s for k in range(n)))

    def rank(self, rng: random.Random) -> int:
        return bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])

    def share_of_top(self, k: int) -> float:
        """Probability that a draw is one of the `k` most popular items."""
        return self.cumulative[min(k, self.n) - 1] / self.cumulative[-1] if k > 0 else 0.0


@functools.lru_cache(maxsize=8)
def zipf(n: int, s: float = ZIPF_S) -> Zipf:
    """One shared table per size: every shopper draws from the same distribution."""
    return Zipf(n, s)


def _weighted(rng: random.Random, choices: Sequence[tuple[object, int]]) -> object:
    point = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        point -= weight
        if point < 0:
            return value
    return choices[-1][0]


def build_vocabulary(
    products: Iterable[tuple[str, str, str]], size: int = VOCABULARY_SIZE
) -> list[str]:
    """Queries a shopper might type, from (name, brand, category name) of the catalog.

    Candidates per product: the words of its name (the type, a line, a feature), the last two
    words, its brand, brand + type, brand + line, line + type, and its category's name (all
    lower case; words with digits left out). The `size` candidates
    that most products match come first (popular queries name common things); ties in
    alphabetical order, so the same catalog always gives the same list.
    """
    counts: Counter[str] = Counter()
    for name, brand, category in products:
        words = [w for w in name.lower().split() if _WORD.match(w) and w not in _STOPWORDS]
        brand_words = brand.lower().split()
        kinds = [w for w in words if w not in brand_words]
        found = {w for w in kinds if len(w) >= 4}
        if kinds:
            found.add(" ".join([*brand_words, kinds[-1]]))
            found.add(" ".join([*brand_words, kinds[0]]))
            if len(kinds) >= 2:
                found.add(" ".join(kinds[-2:]))
                found.add(f"{kinds[0]} {kinds[-1]}")
        found.add(" ".join(brand_words))
        found.add(" ".join(w for w in category.lower().replace("&", " ").split()))
        counts.update(q for q in found if q)
    return sorted(counts, key=lambda q: (-counts[q], q))[:size]


@dataclass(frozen=True)
class Catalog:
    """What the shoppers know about the shop (written by bench/prepare.py).

    `products` are (id, slug) in popularity order: index 0 is Zipf rank 1.
    """

    products: list[tuple[int, str]]
    categories: list[str]
    queries: list[str]
    sessions: list[str]
    # The shelf's key shapes, with `{}` for the id or slug (for the memory sample).
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        data = json.loads(Path(path).read_text())
        return cls(
            products=[(int(i), s) for i, s in data["products"]],
            categories=list(data["categories"]),
            queries=list(data["queries"]),
            sessions=list(data["sessions"]),
            keys=dict(data.get("keys", {})),
        )

    def dump(self, path: Path) -> None:
        data = {
            "products": self.products,
            "categories": self.categories,
            "queries": self.queries,
            "sessions": self.sessions,
            "keys": self.keys,
        }
        Path(path).write_text(json.dumps(data, separators=(",", ":")))


def hit_paths(catalog: Catalog, kind: str) -> list[str]:
    """The fixed set of pages of one kind (`home`, `category`, `search`, `product`) whose hits
    the ceiling phases and bench/inprocess.py measure: the home page, the first page of each
    category, the SEARCH_HITS most frequent queries (the vocabulary is most common first), the
    PRODUCT_HITS most popular product pages (the catalog is in popularity order)."""
    if kind == "home":
        return ["/"]
    if kind == "product":
        return [f"/p/{slug}/" for _id, slug in catalog.products[:PRODUCT_HITS]]
    if kind == "category":
        return [f"/c/{slug}/" for slug in catalog.categories]
    if kind == "search":
        return [f"/search/?{urlencode({'q': q})}" for q in catalog.queries[:SEARCH_HITS]]
    raise ValueError(f"no fixed pages of kind {kind!r}")


def popularity_order(product_ids: Iterable[int], seed: int) -> list[int]:
    """Product ids in popularity order: a seeded shuffle of the sorted ids."""
    ordered = sorted(product_ids)
    random.Random(f"popularity:{seed}").shuffle(ordered)
    return ordered


@dataclass(frozen=True)
class Action:
    kind: str  # one of MIX's names
    path: str = ""  # what to GET, for product, category and search
    product_id: int = 0  # for product
    quantity: int = 1  # for cart_add


class Shopper:
    """The seeded choices of one simulated shopper (one locust user), visit after visit."""

    def __init__(self, catalog: Catalog, seed: int, index: int) -> None:
        self.catalog = catalog
        self.index = index
        self.rng = random.Random(f"shopper:{seed}:{index}")
        self.products = zipf(len(catalog.products))
        self.queries = zipf(len(catalog.queries))
        self.visits = 0

    def new_visit(self) -> tuple[str | None, int]:
        """Start a visit: the session cookie to use (None: anonymous) and its length."""
        self.visits += 1
        session = None
        if self.catalog.sessions and self.rng.random() < SIGNED_IN_SHARE:
            session = self.rng.choice(self.catalog.sessions)
        # Geometric with mean VISIT_ACTIONS, at least one action.
        length = 1
        while self.rng.random() > 1 / VISIT_ACTIONS:
            length += 1
        return session, length

    def next_action(self) -> Action:
        kind = _weighted(self.rng, MIX)
        if kind == "product":
            return self.next_product()
        if kind == "category":
            slug = self.rng.choice(self.catalog.categories)
            page = _weighted(self.rng, CATEGORY_PAGES)
            sort = _weighted(self.rng, CATEGORY_SORTS)
            params = {k: v for k, v in (("sort", sort), ("page", page)) if v not in ("", 1)}
            query = f"?{urlencode(params)}" if params else ""
            return Action("category", f"/c/{slug}/{query}")
        if kind == "search":
            query = self.catalog.queries[self.queries.rank(self.rng)]
            return Action("search", f"/search/?{urlencode({'q': query})}")
        if kind == "cart_add":
            return Action("cart_add", quantity=1 if self.rng.random() < 0.8 else 2)
        return Action("checkout")

    def next_product(self) -> Action:
        product_id, slug = self.catalog.products[self.products.rank(self.rng)]
        return Action("product", f"/p/{slug}/", product_id=product_id)

    def shipping_details(self) -> dict[str, str]:
        n = self.index
        return {
            "email": f"shopper{n}.{self.visits}@bench.example",
            "name": f"Bench Shopper {n}",
            "address_line1": f"{n % 200 + 1} Load Street",
            "city": "Loopback",
            "postcode": f"{10000 + n}",
            "country": "Benchland",
        }
