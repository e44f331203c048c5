"""The benchmark's workload: seeded, the specified mix, Zipf-shaped, built from the catalog."""

import random
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.workload import (
    MIX,
    SEARCH_HITS,
    Catalog,
    Shopper,
    Zipf,
    build_vocabulary,
    hit_paths,
    popularity_order,
)


@pytest.fixture
def catalog() -> Catalog:
    ids = popularity_order(range(1, 5001), seed=7)
    return Catalog(
        products=[(pid, f"product-{pid}") for pid in ids],
        categories=[f"category-{n}" for n in range(10)],
        queries=[f"query {n}" for n in range(2000)],
        sessions=[f"session{n}" for n in range(20)],
    )


def _actions(catalog: Catalog, seed: int, index: int, n: int) -> list:
    shopper = Shopper(catalog, seed, index)
    return [shopper.next_action() for _ in range(n)]


def test_the_same_seed_sends_the_same_requests(catalog):
    assert _actions(catalog, 42, 3, 500) == _actions(catalog, 42, 3, 500)


def test_other_seeds_and_other_shoppers_send_other_requests(catalog):
    assert _actions(catalog, 42, 3, 200) != _actions(catalog, 43, 3, 200)
    assert _actions(catalog, 42, 3, 200) != _actions(catalog, 42, 4, 200)


def test_the_mix_is_the_specified_one(catalog):
    n = 40_000
    kinds = Counter(a.kind for a in _actions(catalog, 1, 0, n))
    for kind, percent in MIX:
        assert kinds[kind] / n == pytest.approx(percent / 100, abs=0.006)


def test_requests_name_the_catalog_s_products_categories_and_queries(catalog):
    slugs = {slug for _, slug in catalog.products}
    for action in _actions(catalog, 5, 0, 2000):
        if action.kind == "product":
            assert action.path == f"/p/product-{action.product_id}/"
            assert f"product-{action.product_id}" in slugs
        elif action.kind == "category":
            assert urlsplit(action.path).path.removeprefix("/c/").strip("/") in catalog.categories
        elif action.kind == "search":
            assert parse_qs(urlsplit(action.path).query)["q"][0] in catalog.queries


def test_product_popularity_follows_zipf_over_the_whole_catalog(catalog):
    shopper = Shopper(catalog, 9, 0)
    n = 50_000
    ranks = Counter(shopper.products.rank(shopper.rng) for _ in range(n))
    zipf = Zipf(len(catalog.products))
    # Rank 1 gets 1 / H(n, 1.1) of the views, rank 2 2^-1.1 of that, and the tail is reached.
    assert ranks[0] / n == pytest.approx(zipf.share_of_top(1), rel=0.05)
    assert ranks[1] / ranks[0] == pytest.approx(2**-1.1, rel=0.1)
    assert max(ranks) > len(catalog.products) * 0.9


def test_popularity_is_a_seeded_shuffle_not_the_id_order():
    ids = list(range(1, 1001))
    order = popularity_order(ids, seed=3)
    assert sorted(order) == ids
    assert order != ids
    assert order == popularity_order(reversed(ids), seed=3)


def test_zipf_draws_stay_in_range():
    zipf, rng = Zipf(3), random.Random(0)
    assert {zipf.rank(rng) for _ in range(1000)} == {0, 1, 2}


def test_visits_are_signed_in_sometimes_and_end():
    catalog = Catalog([(1, "p")], ["c"], ["q"], ["s1", "s2"])
    shopper = Shopper(catalog, 42, 0)
    visits = [shopper.new_visit() for _ in range(2000)]
    signed_in = sum(1 for session, _ in visits if session is not None) / len(visits)
    assert signed_in == pytest.approx(0.3, abs=0.04)
    assert all(length >= 1 for _, length in visits)
    assert sum(length for _, length in visits) / len(visits) == pytest.approx(40, rel=0.15)


def test_vocabulary_comes_from_the_catalog_s_words_most_common_first():
    products = [
        ("Aurik Studio Headphones", "Aurik", "Headphones"),
        ("Aurik Sport Earbuds", "Aurik", "Earbuds"),
        ("Nexaro Note 19 Phone", "Nexaro", "Smartphones"),
        ("Orbix Flip Phone", "Orbix", "Smartphones"),
    ]
    vocabulary = build_vocabulary(products)
    assert vocabulary[:2] == ["aurik", "phone"]  # two products each; ties alphabetical
    assert "aurik headphones" in vocabulary and "studio headphones" in vocabulary
    assert not any(ch.isdigit() for q in vocabulary for ch in q)
    assert build_vocabulary(products, size=3) == vocabulary[:3]


def test_catalog_file_round_trips(tmp_path, catalog):
    path = tmp_path / "workload.json"
    catalog.dump(path)
    assert Catalog.load(path) == catalog


def test_the_hit_phases_send_a_small_fixed_set_of_pages(catalog):
    assert hit_paths(catalog, "home") == ["/"]
    assert hit_paths(catalog, "category") == [f"/c/category-{n}/" for n in range(10)]
    searches = hit_paths(catalog, "search")
    assert len(searches) == SEARCH_HITS and searches[0] == "/search/?q=query+0"
    with pytest.raises(ValueError):
        hit_paths(catalog, "checkout")
