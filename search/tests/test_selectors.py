"""Search against the test PostgreSQL and Redis: parsing, ranking, prefixes, typos, filters,
the trigger that keeps the document current, and what the shelf stores."""

import io
import json
import time
from decimal import Decimal

import pytest
from django.contrib.postgres.search import SearchQuery
from django.core.management import call_command
from django_redis import get_redis_connection

from catalog import services as catalog_services
from catalog.models import Product
from search import cache, selectors, services
from search.models import SearchDocument, SearchTerm
from search.selectors import SearchParams, normalise, parse, tsquery_text
from shelf.core import ENTRY_FORMAT, entry_envelope

from .factories import product, search_catalog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog():
    found = search_catalog()
    services.search_terms_refresh()
    return found


def search(q: str, **filters) -> selectors.SearchResult | None:
    return selectors.search(SearchParams(normalise(q), **filters), record=False)


def ids(result: selectors.SearchResult) -> list[int]:
    return [card["id"] for card in result.cards]


def matching(text: str) -> set[int]:
    """Products whose stored document matches, straight from PostgreSQL (no shelf)."""
    query = SearchQuery(text, config="english")
    return set(Product.objects.filter(search_vector=query).values_list("pk", flat=True))


# --- Normalising and parsing ------------------------------------------------------------------


def test_normalise_folds_width_and_case_drops_controls_and_collapses_whitespace():
    fullwidth = "\uff2c\uff21\uff30\uff34\uff2f\uff30"  # LAPTOP
    assert normalise(f"  {fullwidth}\t Straße\x00\x1b[31m \u200f ") == "laptop strasse [31m"
    assert normalise("a" * 10_000) == "a" * 200
    assert normalise("x" + " " * 5000 + "y") == "x y"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lapt", "lapt:*"),
        ("gaming lapt", "gaming & lapt:*"),
        ('"usb c" -cable', "(usb <-> c) & !cable"),
        ("laptop or tablet", "laptop | tablet:*"),
        ("usb-c charger", "(usb <-> c) & charger:*"),
        ("tv", "tv"),  # too short to be a useful prefix
        ("-cable", ""),  # only exclusions: nothing to look for
        ("or laptop", "laptop:*"),
        ("%_*: ' \\ & | ! ( ) <-> laptop", "laptop:*"),
        ("لابتوب", "لابتوب:*"),
        ("🎧 headphones 🎧", "headphones:*"),
    ],
)
def test_tsquery_text_keeps_websearch_meaning_and_only_word_characters(query, expected):
    assert tsquery_text(parse(normalise(query))) == expected


# --- Ranking, prefixes, typos, syntax ---------------------------------------------------------


def test_name_matches_rank_above_description_matches(catalog):
    found = search("laptop")
    named = {catalog[k].pk for k in ("x15", "aero", "budget")}
    described = {catalog[k].pk for k in ("studio", "usbc")}
    assert set(ids(found)) == named | described
    assert set(ids(found)[:3]) == named
    assert found.total == 5


def test_prefix_of_the_last_word_finds_the_product(catalog):
    assert set(ids(search("lapt"))) >= {catalog["x15"].pk, catalog["aero"].pk}
    assert ids(search("nordvik lap")) == [catalog["x15"].pk]


def test_a_typo_finds_the_product_and_says_what_was_searched_instead(catalog):
    found = search("labtop")
    assert found.corrected == "laptop"
    assert ids(found)[:3] and set(ids(found)[:3]) == {
        catalog[k].pk for k in ("x15", "aero", "budget")
    }
    found = search("sonora studio headphnes")
    assert found.corrected == "sonora studio headphones"
    assert ids(found) == [catalog["studio"].pk]


def test_a_correct_query_is_not_corrected_and_nonsense_finds_nothing(catalog):
    assert search("laptop").corrected is None
    nothing = search("zzqxj")
    assert (nothing.total, nothing.cards, nothing.corrected) == (0, [], None)


def test_websearch_syntax_phrases_exclusions_and_or(catalog):
    assert ids(search('"usb c" -cable')) == [catalog["usbc"].pk]
    assert set(ids(search("wave or studio"))) == {catalog["wave"].pk, catalog["studio"].pk}


def test_filters_and_sorting_work_together(catalog):
    params = {"category": "computers", "min_price": Decimal("20"), "max_price": Decimal("1000")}
    assert ids(search("laptop", **params, sort="price")) == [
        catalog["usbc"].pk, catalog["budget"].pk, catalog["x15"].pk,
    ]  # fmt: skip
    assert ids(search("laptop", **params, sort="-price")) == [
        catalog["x15"].pk, catalog["budget"].pk, catalog["usbc"].pk,
    ]  # fmt: skip
    in_stock = search("laptop", **params, sort="price", in_stock=True)
    assert ids(in_stock) == [catalog["usbc"].pk, catalog["x15"].pk]
    assert in_stock.total == 2
    rated = search("laptop", category="laptops", sort="rating")
    assert ids(rated) == [catalog["aero"].pk, catalog["x15"].pk, catalog["budget"].pk]


def test_facets_count_every_category_while_the_total_honours_the_filter(catalog):
    found = search("laptop", category="headphones")
    assert ids(found) == [catalog["studio"].pk]
    assert found.total == 1
    facets = {f.slug: (f.name, f.count) for f in found.facets}
    assert facets == {
        "laptops": ("Laptops", 3),
        "headphones": ("Headphones", 1),
        "chargers": ("Chargers", 1),
    }


def test_pages_hold_twenty_and_a_page_past_the_end_is_none(catalog):
    laptops = catalog["laptops"]
    for i in range(25):
        product(f"Corvex Z{i} Laptop", laptops)
    first, second = search("corvex"), search("corvex", page=2)
    assert (len(first.cards), len(second.cards), first.total, first.pages) == (20, 5, 25, 2)
    assert not set(ids(first)) & set(ids(second))
    assert ids(first) == sorted(ids(first))  # equal ranks: by id, so pages are stable
    assert search("corvex", page=3) is None


# --- The stored document ----------------------------------------------------------------------


def test_the_trigger_keeps_the_document_current_on_update_and_category_rename(catalog):
    x15 = catalog["x15"]
    Product.objects.filter(pk=x15.pk).update(name="Nordvik Zephyr", description="A notebook.")
    assert matching("zephyr") == {x15.pk}
    assert matching("x15") == set()
    headphones = catalog["headphones"]
    headphones.name = "Earcans"
    headphones.save()
    assert matching("earcans") == {catalog["studio"].pk, catalog["wave"].pk}
    audio = catalog["audio"]
    audio.name = "Hifi"
    audio.save()
    assert matching("hifi") == {catalog["studio"].pk, catalog["wave"].pk}


def test_seed_catalog_is_searchable_and_builds_the_vocabulary():
    call_command("seed_catalog", products=300, stdout=io.StringIO())
    assert Product.objects.filter(search_vector__isnull=True).count() == 0
    laptops = set(Product.objects.filter(category__slug="laptops", is_active=True).values_list(
        "pk", flat=True))  # fmt: skip
    assert laptops and laptops <= matching("laptop")
    assert SearchTerm.objects.filter(word__in=["laptop", "headphones", "nordvik"]).count() == 3
    assert search("labtop").corrected == "laptop"


# --- What the shelf stores --------------------------------------------------------------------


def _entry(params: SearchParams) -> dict:
    raw = get_redis_connection("default").get(cache.RESULTS.key(params.part))
    return entry_envelope(raw)


def test_entries_hold_ids_not_cards_with_the_ttl_of_their_tier(catalog):
    regular = SearchParams("laptop")
    selectors.search(regular, record=False)
    entry = _entry(regular)
    assert set(entry["d"]) == {"ids", "total", "pages", "facets", "corrected", "popular"}
    assert "price" not in json.dumps(entry["d"])
    assert 270 <= entry["x"] - time.time() <= 330

    empty = SearchParams("zzqxj")
    selectors.search(empty, record=False)
    assert 54 <= _entry(empty)["x"] - time.time() <= 66

    get_redis_connection("default").zadd(cache.TOP_KEY, {"headphones": 5})
    popular = SearchParams("headphones")
    selectors.search(popular, record=False)
    assert 540 <= _entry(popular)["x"] - time.time() <= 660


def test_the_key_hashes_the_normalised_query_and_every_filter():
    assert SearchParams(normalise("  LAPTOP ")).part == SearchParams("laptop").part
    assert (
        SearchParams("laptop", min_price=Decimal("100.00")).part
        == SearchParams("laptop", min_price=Decimal("100")).part
    )
    variants = [
        SearchParams("laptop", page=2), SearchParams("laptop", sort="price"),
        SearchParams("laptop", in_stock=True), SearchParams("laptop", category="laptops"),
        SearchParams("laptop", max_price=Decimal("5")), SearchParams("laptops"),
    ]  # fmt: skip
    parts = {p.part for p in variants} | {SearchParams("laptop").part}
    assert len(parts) == len(variants) + 1
    assert all(len(p) == 32 for p in parts)


@pytest.mark.also_on("cluster")
def test_a_price_change_expires_only_price_dependent_entries(
    catalog, django_assert_num_queries, django_capture_on_commit_callbacks
):
    relevance = SearchParams("laptop")
    by_price = SearchParams("laptop", sort="price")
    order = ["usbc", "studio", "budget", "x15", "aero"]
    assert ids(selectors.search(by_price)) == [catalog[k].pk for k in order]
    selectors.search(relevance)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.product_price_change_percent([catalog["studio"].pk], Decimal("500"))
    with django_assert_num_queries(0):
        found = selectors.search(relevance)  # entry still valid; card re-written at commit
    studio = next(c for c in found.cards if c["id"] == catalog["studio"].pk)
    assert studio["price"] == "1194.00"
    order = ["usbc", "budget", "x15", "studio", "aero"]
    assert ids(selectors.search(by_price)) == [catalog[k].pk for k in order]


@pytest.mark.also_on("cluster")
def test_saving_a_product_expires_every_search_entry(catalog, django_assert_num_queries):
    selectors.search(SearchParams("nordvik"))
    new = product("Nordvik Q7 Laptop", catalog["laptops"])
    found = selectors.search(SearchParams("nordvik"))
    assert new.pk in ids(found)
    with django_assert_num_queries(0):
        selectors.search(SearchParams("nordvik"))


# --- What a miss costs ------------------------------------------------------------------------


def _statements(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if table in q["sql"]]


def test_a_miss_reads_the_products_in_one_statement(catalog, django_assert_max_num_queries):
    for filters in ({}, {"category": "computers", "in_stock": True, "max_price": Decimal("1000")}):
        with django_assert_max_num_queries(10) as queries:
            found = search("laptop", sort="price", **filters)
        assert found.total and found.facets
        assert len(_statements(queries, "search_searchdocument")) == 1
        if not filters:  # the narrow documents only: the product rows are not read back
            assert _statements(queries, "catalog_product") == []


def test_a_typo_costs_one_statement_for_all_its_corrections(catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as queries:
        found = search("sonora studyo headphnes")
    assert found.corrected == "sonora studio headphones"
    assert len(_statements(queries, "search_searchterm")) == 1
    assert len(_statements(queries, "search_searchdocument")) == 2  # the words, the corrected


def test_a_filtered_search_is_corrected_only_when_its_words_match_nothing(catalog):
    found = search("labtop", max_price=Decimal("500"))
    assert found.corrected == "laptop"
    assert set(ids(found)) == {catalog["budget"].pk, catalog["studio"].pk, catalog["usbc"].pk}
    nothing = search("laptop", max_price=Decimal("1"))
    assert (nothing.total, nothing.facets, nothing.corrected) == (0, [], None)


def test_the_rendered_results_are_stored_with_the_shipped_dictionary():
    page = cache.PAGE
    assert page.dictionary is not None and page.dictionary.id
    assert f"v{page.schema}f{ENTRY_FORMAT}z{page.dictionary.id}:" in page.key("x")


def _documents() -> set[tuple]:
    return set(
        SearchDocument.objects.values_list(
            "product_id", "category_id", "price", "rating_score", "search_vector"
        )
    )


def _listed_active() -> set[tuple]:
    return set(
        Product.objects.filter(parent__isnull=True, is_active=True).values_list(
            "id", "category_id", "price", "rating_score", "search_vector"
        )
    )


def test_search_documents_mirror_listed_active_products_through_every_write(catalog):
    from catalog.tests.factories import CategoryFactory, product_with_variants

    shirt, (small, _large) = product_with_variants(
        [(("S",), 2, None), (("L",), 0, "21.00")], ("Size",)
    )
    assert _documents() == _listed_active() and len(_documents()) == 8  # 7 and the shirt
    x15, usbc = catalog["x15"], catalog["usbc"]
    x15.price = Decimal("777.00")
    x15.save()  # an admin save
    Product.objects.filter(pk=usbc.pk).update(name="Nordvik USB-C Dock")  # new words
    Product.objects.filter(pk=shirt.pk).update(rating=Decimal("4.5"), review_count=12)
    Product.objects.filter(pk=usbc.pk).update(category=CategoryFactory())
    assert _documents() == _listed_active()
    assert SearchDocument.objects.get(pk=x15.pk).price == Decimal("777.00")
    Product.objects.filter(pk=x15.pk).update(is_active=False)
    small.delete()
    assert _documents() == _listed_active()
    assert not SearchDocument.objects.filter(pk__in=[x15.pk, small.pk]).exists()
    Product.objects.filter(pk=x15.pk).update(is_active=True)
    usbc.delete()
    assert _documents() == _listed_active()
    assert SearchDocument.objects.filter(pk=x15.pk).exists()
    assert not SearchDocument.objects.filter(pk=usbc.pk).exists()
