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

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.db.models import Count, F, QuerySet

from catalog.models import Category, Product
from catalog.selectors import product_cards, product_versions
from inventory.selectors import stock_request
from shelf import Loaded, Request
from shelf.pages import Page, render_shared

from . import cache
from .models import SearchTerm

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
    "rating": ("-rating", "id"),
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


def _matches(text: str, params: SearchParams) -> tuple[QuerySet, SearchQuery]:
    """Active products matching the tsquery text and the price and stock filters."""
    query = SearchQuery(text, search_type="raw", config=CONFIG)
    matches = Product.objects.filter(is_active=True, search_vector=query)
    if params.min_price is not None:
        matches = matches.filter(price__gte=params.min_price)
    if params.max_price is not None:
        matches = matches.filter(price__lte=params.max_price)
    if params.in_stock:
        matches = matches.filter(stock__quantity__gt=0)
    return matches, query


def _categories() -> dict[int, tuple[str, str, int | None]]:
    return {
        pk: (slug, name, parent)
        for pk, slug, name, parent in Category.objects.values_list("pk", "slug", "name", "parent")
    }


def _run(text: str, params: SearchParams, categories: dict) -> dict:
    """Facets, total and the page's ids for one tsquery (ids None for a page past the end)."""
    matches, query = _matches(text, params)
    # Facets count every category, so a shopper can switch; the total honours the filter.
    counts = dict(matches.values_list("category_id").annotate(n=Count("id")).order_by())
    if params.category:
        chosen = {pk for pk, (slug, _, _) in categories.items() if slug == params.category}
        chosen |= {pk for pk, (_, _, parent) in categories.items() if parent in chosen}
        matches = matches.filter(category_id__in=chosen)
        total = sum(n for pk, n in counts.items() if pk in chosen)
    else:
        total = sum(counts.values())
    pages = min(MAX_PAGE, max(1, math.ceil(total / PAGE_SIZE)))
    ids: list[int] | None = None
    if params.page <= pages:
        ids = []
        if total:
            if params.sort == "relevance":
                rank = SearchRank(F("search_vector"), query, cover_density=True)
                matches = matches.annotate(rank=rank)
            offset = (params.page - 1) * PAGE_SIZE
            ordered = matches.order_by(*SORTS[params.sort]).values_list("id", flat=True)
            ids = list(ordered[offset : offset + PAGE_SIZE])
    facets = sorted(
        ([categories[pk][0], categories[pk][1], n] for pk, n in counts.items() if pk in categories),
        key=lambda f: (-f[2], f[1]),
    )
    return {"ids": ids, "total": total, "pages": pages, "facets": facets}


def _corrections(terms: list[Term]) -> dict[str, str]:
    """For words the catalog's vocabulary lacks, the most similar word it has (pg_trgm)."""
    words = {w for t in terms if not t.negated for w in t.words if len(w) >= 3 and w.isalpha()}
    if not words:
        return {}
    known = set(SearchTerm.objects.filter(word__in=words).values_list("word", flat=True))
    fixes = {}
    for word in sorted(words - known)[:MAX_CORRECTIONS]:
        best = (
            SearchTerm.objects.filter(word__trigram_similar=word)
            .annotate(similarity=TrigramSimilarity("word", word))
            .order_by("-similarity", "-documents", "word")
            .values_list("word", flat=True)
            .first()
        )
        if best:
            fixes[word] = best
    return fixes


def _nothing_found(text: str, params: SearchParams, found: dict) -> bool:
    """True when the words match no active product at all, whatever the filters."""
    if found["facets"]:
        return False
    if params.min_price is None and params.max_price is None and not params.in_stock:
        return True
    query = SearchQuery(text, search_type="raw", config=CONFIG)
    return not Product.objects.filter(is_active=True, search_vector=query).exists()


def _load(params: SearchParams) -> dict | Loaded | None:
    # Price-dependent pages also record the price tag, read before the SQL below.
    deps = cache.prices_versions() if params.priced else {}
    terms = parse(params.query)
    text = tsquery_text(terms)
    categories = _categories()
    found = _run(text, params, categories)
    corrected = None
    if _nothing_found(text, params, found):
        fixes = _corrections(terms)
        if fixes:
            fixed = [replace(t, words=tuple(fixes.get(w, w) for w in t.words)) for t in terms]
            retry = _run(tsquery_text(fixed), params, categories)
            if retry["facets"]:
                found, corrected = retry, query_text(fixed)
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
        "facets": [(f, _link(p, category=f.slug)) for f in found.facets],
        "all_categories": _link(p, category=None),
        "page_link": _link(p) + "&page=",
    }


def _load_page(shown: str, params: SearchParams) -> Loaded:
    # Each tag is read before what it protects: the results entry's tags before the entry, the
    # cards' product tags before the cards. So a write that commits while the page is built
    # leaves it recorded under an old version, never served as fresh.
    deps = cache.results_versions(params.priced)
    value = _results(params)
    if value is None:
        return Loaded(None, deps)  # a page past the end
    deps |= product_versions(value["ids"])
    found = _result(params, value)
    html = render_shared("search/results.html", _page_context(shown, found))
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
