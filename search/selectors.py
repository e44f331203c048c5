"""Reads for search: normalise a query, turn it into a tsquery, run it with filters, facets,
sort and pagination, through search.cache.

What a query means (websearch syntax): words must all match (`usb cable`); `"usb c"` is a
phrase; `-cable` excludes; `or` between two terms accepts either. The last plain word also
matches as a prefix (`lapt` finds laptops). When nothing matches at all, words that are not in
the catalog's vocabulary are replaced by the most similar word that is (pg_trgm), and the result
says what was searched for instead (`labtop` -> `laptop`).
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)

from catalog.models import Category
from catalog.selectors import (
    department_menu,
    in_stock_q,
    menu_versions,
    product_cards,
    product_cards_html,
    product_versions,
)
from inventory.selectors import stock_request
from shelf import Loaded, Request
from shelf.pages import Page, render_shared

from . import cache
from .models import SearchDocument, SearchTerm

MAX_QUERY = 200
# Longer input is cut before normalising, so a huge parameter costs no more than this.
MAX_RAW_QUERY = 20_000
PAGE_SIZE = 20
MAX_PAGE = 500  # 10,000 results; deeper pages are 404s, as in most search engines
PREFIX_MIN = 3  # a shorter last word would match too many lexemes to be useful
MAX_CORRECTIONS = 4
CONFIG = "english"
SORTS = {
    "relevance": ("-rank", "id"),
    "price": ("price", "id"),
    "-price": ("-price", "id"),
    "rating": ("-rating_score", "id"),  # the Bayesian score, as the catalog's "Top rated"
}
SORT_LABELS = {
    "relevance": "Best match",
    "price": "Price: low to high",
    "-price": "Price: high to low",
    "rating": "Top rated",
}


# ---------------------------------------------------------------------------------------------
# Normalising and parsing
# ---------------------------------------------------------------------------------------------


def _clean(raw: str) -> str:
    """Drop control, format and unassigned characters (NUL breaks PostgreSQL text) and collapse
    whitespace; cut to MAX_QUERY characters."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in raw[:MAX_RAW_QUERY])
    return " ".join(text.split())[:MAX_QUERY].strip()


def display_query(raw: str) -> str:
    """The query as the shopper typed it, made safe to show and to store (NFC, no controls)."""
    return _clean(unicodedata.normalize("NFC", raw[:MAX_RAW_QUERY]))


def normalise(raw: str) -> str:
    """The query's cache identity: NFKC, case-folded, whitespace collapsed, cut to 200."""
    return _clean(unicodedata.normalize("NFKC", raw[:MAX_RAW_QUERY]).casefold())


@dataclass(frozen=True)
class Term:
    """One term of a parsed query: a word, or several that must follow each other."""

    words: tuple[str, ...]
    negated: bool = False
    either: bool = False  # joined to the previous term by OR instead of AND
    quoted: bool = False


def _words(text: str) -> list[str]:
    """Runs of letters, digits and combining marks: nothing to_tsquery could read as syntax."""
    words, current = [], []
    for ch in text:
        if unicodedata.category(ch)[0] in "LNM":
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _tokens(query: str) -> list[tuple[str, bool, bool]]:
    """Split into (text, negated, quoted) tokens the way websearch_to_tsquery reads them."""
    tokens, i, n = [], 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        negated = query[i] == "-" and i + 1 < n and not query[i + 1].isspace()
        start = i + 1 if negated else i
        if start < n and query[start] == '"':
            end = query.find('"', start + 1)
            end = n if end < 0 else end
            tokens.append((query[start + 1 : end], negated, True))
            i = end + 1
        else:
            end = start
            while end < n and not query[end].isspace():
                end += 1
            tokens.append((query[start:end], negated, False))
            i = end
    return tokens


def parse(query: str) -> list[Term]:
    """The terms of a normalised query; characters that are not words are dropped."""
    terms: list[Term] = []
    pending_or = False
    for text, negated, quoted in _tokens(query):
        if not quoted and not negated and text == "or":
            pending_or = bool(terms)
            continue
        words = tuple(_words(text))
        if words:
            terms.append(Term(words, negated, pending_or, quoted or len(words) > 1))
            pending_or = False
    return terms


def _positive(terms: list[Term]) -> bool:
    return any(not t.negated for t in terms)


def tsquery_text(terms: list[Term]) -> str:
    """Text for `to_tsquery`, built only from word characters and operators.

    The last plain word (not quoted, not excluded) gets `:*` so that it matches as a prefix.
    Queries that only exclude return "" (they would rank the whole catalog for nothing).
    """
    if not _positive(terms):
        return ""
    prefix_at = next(
        (i for i in range(len(terms) - 1, -1, -1) if not terms[i].negated and not terms[i].quoted),
        None,
    )
    parts: list[str] = []
    for i, term in enumerate(terms):
        words = list(term.words)
        if i == prefix_at and len(words[0]) >= PREFIX_MIN:
            words[0] += ":*"
        expr = " <-> ".join(words)
        if len(words) > 1:
            expr = f"({expr})"
        if term.negated:
            expr = f"!{expr}"
        if parts:
            parts.append("|" if term.either else "&")
        parts.append(expr)
    return " ".join(parts)


def query_text(terms: list[Term]) -> str:
    """Terms written back as a query a shopper could type (to show a corrected query)."""
    out: list[str] = []
    for term in terms:
        text = " ".join(term.words)
        if term.quoted and len(term.words) > 1:
            text = f'"{text}"'
        if term.negated:
            text = f"-{text}"
        if term.either and out:
            out.append("or")
        out.append(text)
    return " ".join(out)


# ---------------------------------------------------------------------------------------------
# Searching
# ---------------------------------------------------------------------------------------------


def _price_key(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@dataclass(frozen=True)
class SearchParams:
    """What one results page shows: a normalised query, its filters, sort and page."""

    query: str
    category: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = False
    sort: str = "relevance"
    page: int = 1

    @property
    def part(self) -> str:
        """The cache key's part: a hash, since the query is free text."""
        identity = [
            self.query, self.category, _price_key(self.min_price), _price_key(self.max_price),
            self.in_stock, self.sort, self.page,
        ]  # fmt: skip
        raw = json.dumps(identity, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def priced(self) -> bool:
        """Whether which products appear, or in what order, depends on prices."""
        prices = (self.min_price, self.max_price)
        return self.sort in ("price", "-price") or prices != (None, None)


@dataclass(frozen=True)
class Facet:
    slug: str
    name: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    """A results page: product cards (from the product cache) and what the shelf stored."""

    params: SearchParams
    total: int
    pages: int
    cards: list[dict]
    facets: list[Facet]
    corrected: str | None = None


def _shown(query: SearchQuery) -> QuerySet:
    """Search documents of shown products (catalog's Product.objects.shown, listed) matching
    `query`: a document exists only for a listed, active product, so its category is left to
    check. Variants are found through their parent, whose document holds their SKUs and
    values."""
    return SearchDocument.objects.filter(
        search_vector=query, category_id__in=Category.objects.shown().values("pk")
    )


def _matches(text: str, params: SearchParams) -> tuple[QuerySet, SearchQuery]:
    """Shown products matching the tsquery text and the price and stock filters."""
    query = SearchQuery(text, search_type="raw", config=CONFIG)
    matches = _shown(query)
    if params.min_price is not None:
        matches = matches.filter(price__gte=params.min_price)
    if params.max_price is not None:
        matches = matches.filter(price__lte=params.max_price)
    if params.in_stock:
        matches = matches.filter(in_stock_q())
    return matches, query


# One statement over the matches: they are read once (a bitmap scan of the GIN index) into a
# materialised CTE holding each one's id, category, whether the category filter keeps it and
# its sort key; the facets, the total and the page are then counted and sorted from that small
# set. On the 100,000-product demo catalog a broad query (`phone`, 15,000 matches) used to read
# them twice (a GROUP BY, then ts_rank_cd over every match); the rank is now computed once, and
# only for the rows the category filter keeps. Whether the filter keeps a row depends on its
# category alone, so the total is the sum of the kept categories' counts: the matches are
# scanned twice (counted, then the page sorted), not three times. `{anywhere}` asks, only when
# a filtered search finds nothing, whether the words alone match (a CASE evaluates it on that
# path only).
_RESULTS_SQL = """
WITH matches (id, category_id, chosen, key) AS MATERIALIZED ({matches}),
facets AS (SELECT category_id, chosen, count(*) AS n FROM matches GROUP BY category_id, chosen)
SELECT
    (SELECT coalesce(json_agg(json_build_array(c.slug, c.name, f.n)), '[]')::text
     FROM facets f JOIN {categories} c ON c.id = f.category_id),
    (SELECT coalesce(sum(n), 0)::bigint FROM facets WHERE chosen),
    ARRAY(SELECT id FROM matches WHERE chosen ORDER BY {order} LIMIT %s OFFSET %s),
    {anywhere}
"""
# The catalog fits in memory, so a page fetched out of order costs about what the next one
# does. At PostgreSQL's default random_page_cost (4) the planner reads all 100,000 products
# for a broad query (`phone`, 15,000 matches: 88 ms) rather than the GIN index's bitmap of the
# matches (37 ms); 1.1 is the usual value for a cached or SSD database. Scoped to the search
# statement's transaction (inside an outer one it lasts until that one ends).
_PLANNER_SQL = "SET LOCAL random_page_cost = 1.1"
_ORDER = {
    "relevance": "key DESC, id",
    "price": "key, id",
    "-price": "key DESC, id",
    "rating": "key DESC, id",
}
_KEY = {"price": F("price"), "-price": F("price"), "rating": F("rating_score")}


def _filtered(params: SearchParams) -> bool:
    return params.min_price is not None or params.max_price is not None or params.in_stock


def _run(text: str, params: SearchParams) -> dict:
    """Facets, total and the page's ids for one tsquery (ids None for a page past the end),
    and whether its words match any active product at all, whatever the filters."""
    matches, query = _matches(text, params)
    # Facets count every category, so a shopper can switch; the total honours the filter.
    if params.category:
        slug = params.category
        chosen_ids = Category.objects.filter(Q(slug=slug) | Q(parent__slug=slug)).values("pk")
        chosen = ExpressionWrapper(Q(category_id__in=chosen_ids), output_field=BooleanField())
    else:
        chosen = Value(True)
    if params.sort == "relevance":
        key = SearchRank(F("search_vector"), query, cover_density=True)
        if params.category:  # rank only what the page may show
            key = Case(When(Q(category_id__in=chosen_ids), then=key), default=None)
    else:
        key = _KEY[params.sort]
    inner = matches.annotate(chosen=chosen, key=key).values(
        "product_id", "category_id", "chosen", "key"
    )
    inner_sql, inner_params = inner.order_by().query.sql_with_params()
    sql_params = [*inner_params]
    anywhere = "false"
    if _filtered(params):
        words_sql, words_params = (
            _shown(query).values("product_id").order_by().query.sql_with_params()
        )
        anywhere = (
            f"CASE WHEN EXISTS (SELECT 1 FROM facets) THEN true ELSE EXISTS ({words_sql}) END"
        )
    sql = _RESULTS_SQL.format(
        matches=inner_sql,
        categories=Category._meta.db_table,
        order=_ORDER[params.sort],
        anywhere=anywhere,
    )
    past_max = params.page > MAX_PAGE
    sql_params += [0 if past_max else PAGE_SIZE, 0 if past_max else (params.page - 1) * PAGE_SIZE]
    if _filtered(params):
        sql_params += words_params
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_PLANNER_SQL)
        cursor.execute(sql, sql_params)
        facets, total, page_ids, anywhere_found = cursor.fetchone()
    pages = min(MAX_PAGE, max(1, math.ceil(total / PAGE_SIZE)))
    ids = page_ids if params.page <= pages else None
    facets = sorted(json.loads(facets), key=lambda f: (-f[2], f[1]))
    found = bool(facets) or bool(anywhere_found)
    return {"ids": ids, "total": total, "pages": pages, "facets": facets, "anything": found}


# For each word the vocabulary lacks (the first MAX_CORRECTIONS in code point order: "C"), the
# most similar word it has; one statement for them all (pg_trgm's `%` uses the GIN index).
_CORRECTIONS_SQL = """
SELECT typed.word, best.word
FROM (
    SELECT w AS word FROM unnest(%s::text[]) AS w
    WHERE NOT EXISTS (SELECT 1 FROM {terms} known WHERE known.word = w)
    ORDER BY w COLLATE "C"
    LIMIT %s
) AS typed
CROSS JOIN LATERAL (
    SELECT t.word FROM {terms} t
    WHERE t.word %% typed.word
    ORDER BY similarity(t.word, typed.word) DESC, t.documents DESC, t.word
    LIMIT 1
) AS best
"""


def _corrections(terms: list[Term]) -> dict[str, str]:
    """For words the catalog's vocabulary lacks, the most similar word it has (pg_trgm)."""
    words = {w for t in terms if not t.negated for w in t.words if len(w) >= 3 and w.isalpha()}
    if not words:
        return {}
    sql = _CORRECTIONS_SQL.format(terms=SearchTerm._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [sorted(words), MAX_CORRECTIONS])
        return dict(cursor.fetchall())


def _load(params: SearchParams) -> dict | Loaded | None:
    # Price-dependent pages also record the price tag, read before the SQL below.
    deps = cache.prices_versions() if params.priced else {}
    terms = parse(params.query)
    text = tsquery_text(terms)
    found = _run(text, params)
    corrected = None
    if not found["anything"]:
        fixes = _corrections(terms)
        if fixes:
            fixed = [replace(t, words=tuple(fixes.get(w, w) for w in t.words)) for t in terms]
            retry = _run(tsquery_text(fixed), params)
            if retry["facets"]:
                found, corrected = retry, query_text(fixed)
    del found["anything"]
    if found["ids"] is None:
        value = None  # a page past the end: cached briefly as a miss, shown as a 404
    else:
        value = found | {"corrected": corrected, "popular": cache.is_popular(params.query)}
    return Loaded(value, deps) if deps else value


# What a query with no positive term finds (it only excludes, or has no words): nothing, and
# not worth an SQL query or a results entry.
_NOTHING = {"ids": [], "total": 0, "pages": 1, "facets": [], "corrected": None, "popular": False}


def _results(params: SearchParams) -> dict | None:
    """The results entry (ids, total, facets, correction), or None for a page past the end."""
    if not _positive(parse(params.query)):
        return _NOTHING
    return cache.results_get(params.part, lambda _part: _load(params))


def _result(params: SearchParams, value: dict) -> SearchResult:
    return SearchResult(
        params=params,
        total=value["total"],
        pages=value["pages"],
        cards=product_cards(value["ids"]),
        facets=[Facet(*f) for f in value["facets"]],
        corrected=value["corrected"],
    )


def _record(params: SearchParams, total: int) -> None:
    # A shopper's first page with results: what is worth warming.
    if params.page == 1 and total:
        cache.record_query(params.query)


def search(params: SearchParams, *, record: bool = True) -> SearchResult | None:
    """A results page, or None for a page past the end. `record` counts the query's
    popularity (a shopper's first page, not a warm-up)."""
    value = _results(params)
    if value is None:
        return None
    if record:
        _record(params, value["total"])
    return _result(params, value)


# ---------------------------------------------------------------------------------------------
# The results page
# ---------------------------------------------------------------------------------------------


def _link(params: SearchParams, **changes) -> str:
    """A results URL for these params with some changed; the page resets unless given."""
    fields = {
        "q": params.query, "category": params.category, "min_price": params.min_price,
        "max_price": params.max_price, "in_stock": "1" if params.in_stock else None,
        "sort": "" if params.sort == "relevance" else params.sort, "page": None,
    } | changes  # fmt: skip
    return "?" + urlencode({k: v for k, v in fields.items() if v not in (None, "")})


def _page_part(shown: str, params: SearchParams) -> str:
    """The page's key part: the query as shown (the page prints it) and the params' hash.
    Both are cleaned values, so parameters that clean to the same search share one page."""
    raw = json.dumps([shown, params.part], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _page_context(shown: str, found: SearchResult) -> dict:
    """The template's context, from cleaned values only: the raw parameters never reach a
    page that other shoppers are served."""
    p = found.params
    return {
        "query": shown,
        "category": p.category,
        "min_price": _price_key(p.min_price) or "",
        "max_price": _price_key(p.max_price) or "",
        "in_stock": p.in_stock,
        "sort": p.sort,
        "sorts": SORT_LABELS.items(),
        "found": found,
        "cards": product_cards_html(found.cards),
        "facets": [(f, _link(p, category=f.slug)) for f in found.facets],
        "all_categories": _link(p, category=None),
        "page_link": _link(p) + "&page=",
    }


def _load_page(shown: str, params: SearchParams) -> Loaded:
    # Each tag is read before what it protects: the results entry's tags before the entry, the
    # cards' product tags before the cards. So a write that commits while the page is built
    # leaves it recorded under an old version, never served as fresh.
    deps = cache.results_versions(params.priced) | menu_versions()
    value = _results(params)
    if value is None:
        return Loaded(None, deps)  # a page past the end
    deps |= product_versions(value["ids"])
    found = _result(params, value)
    html = render_shared(
        "search/results.html", {**_page_context(shown, found), "menu": department_menu()}
    )
    stock = [card["id"] for card in found.cards]
    page = {"html": html, "stock": stock, "total": found.total, "popular": value["popular"]}
    return Loaded(page, deps)


def _follow_stock(page: dict) -> list[Request]:
    return [stock_request(page["stock"])]


def results_page(shown: str, params: SearchParams, *, record: bool = True) -> Page | None:
    """The rendered results page for `params`, showing the query as the shopper typed it
    (`shown`, from display_query), with the stock of its cards read in the same round trip;
    None for a page past the end. `record` as for `search`."""
    value, follows = cache.page_get(
        _page_part(shown, params), lambda _part: _load_page(shown, params), _follow_stock
    )
    if value is None:
        return None
    if record:
        _record(params, value["total"])
    return Page(value["html"], {"stock": follows[0] if follows else {}})
