"""Entries stored compressed with a namespace's zstd dictionary (shelf/compression.py)."""

import io
import json
import logging
import random

import pytest
from django.core.management import call_command
from django_redis import get_redis_connection

import shelf
from shelf import compression, core
from shelf.compression import Dictionary


def _page(rng: random.Random) -> str:
    """A page-like text: one template's boilerplate around a few varying words and numbers."""
    words = ["kettle", "laptop", "graphite", "steel", "quiet", "compact", "warm", "travel"]
    rows = "".join(
        f'<li class="card"><a href="/p/item-{rng.randrange(10**6)}/">{rng.choice(words)} '
        f'{rng.choice(words)}</a><span class="price">${rng.randrange(5, 900)}.99</span></li>\n'
        for _ in range(12)
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        '<link rel="stylesheet" href="/static/shop/site.css"></head><body><header class="top">'
        '<nav><a href="/">Home</a> <a href="/cart/">Cart</a></nav></header><main><ul>\n'
        f"{rows}</ul></main><footer>Shipping, returns, privacy, contact</footer></body></html>"
    )


def _trained(path, seed: int) -> Dictionary:
    rng = random.Random(seed)
    samples = [json.dumps({"html": _page(rng)}).encode() for _ in range(300)]
    path.write_bytes(compression.train(samples, size=16_384))
    return Dictionary(path)


@pytest.fixture
def paged(tmp_path):
    """A namespace of pages with its own trained dictionary."""
    dictionary = _trained(tmp_path / "pages.zdict", seed=1)
    return shelf.Namespace("test.zpage", schema=1, ttl=60, dictionary=dictionary)


def _raw(ns, part) -> bytes:
    return get_redis_connection("default").get(ns.key(part))


@pytest.mark.also_on("cluster")
def test_a_page_is_stored_compressed_under_a_key_naming_its_dictionary(paged):
    value = {"html": _page(random.Random(7))}
    calls = []
    assert shelf.fetch(paged, "a", lambda p: calls.append(p) or value) == value
    assert paged.key("a") == f"test.zpage:v1f3z{paged.dictionary.id}:a" and paged.dictionary.id
    head, _, body = _raw(paged, "a").partition(b"\n")
    assert json.loads(head)["z"] == paged.dictionary.id
    plain = json.dumps(value, separators=(",", ":")).encode()
    assert len(body) * 4 < len(plain), (len(body), len(plain))
    with pytest.raises(ValueError):
        json.loads(body)  # not the JSON itself
    core.l1_empty()
    assert shelf.fetch(paged, "a", lambda p: calls.append(p) or value) == value
    assert calls == ["a"]  # the second read decompressed the stored entry
    assert core.entry_envelope(_raw(paged, "a"))["d"] == value


@pytest.mark.also_on("cluster")
def test_a_new_dictionary_reads_other_keys_and_never_misreads(paged, tmp_path):
    old = {"html": _page(random.Random(8))}
    shelf.fetch(paged, "b", lambda p: old)
    # The same namespace in a process deployed with a newly trained dictionary.
    new_ns = shelf.Namespace(
        "test.zpage", schema=1, ttl=60, dictionary=_trained(tmp_path / "new.zdict", seed=2)
    )
    assert new_ns.key("b") != paged.key("b")
    new = {"html": _page(random.Random(9))}
    core.l1_empty()
    assert shelf.fetch(new_ns, "b", lambda p: new) == new
    assert core.entry_envelope(_raw(paged, "b"))["d"] == old  # the old process's entry is kept


@pytest.mark.also_on("cluster")
def test_an_entry_this_process_cannot_decompress_is_a_miss(paged, tmp_path):
    r = get_redis_connection("default")
    unknown = _trained(tmp_path / "unknown.zdict", seed=3)
    envelope = {"t": {}, "x": 2e9, "c": 0.0, "d": {"html": _page(random.Random(4))}}
    foreign = core.entry_bytes(envelope, unknown)
    del compression.DICTIONARIES[unknown.path]  # a dictionary this process was not given
    fresh = {"html": _page(random.Random(5))}
    for written in (foreign, b'{"h":"","x":2e9,"c":0,"z":%d}\nnot zstd' % paged.dictionary.id):
        r.set(paged.key("e"), written)
        core.l1_empty()
        assert shelf.fetch(paged, "e", lambda p: fresh) == fresh
        r.delete(paged.key("e"))


@pytest.mark.also_on("cluster")
def test_small_values_are_stored_as_they_are(paged):
    assert shelf.fetch(paged, "c", lambda p: {"n": 1}) == {"n": 1}
    head, _, body = _raw(paged, "c").partition(b"\n")
    assert "z" not in json.loads(head) and json.loads(body) == {"n": 1}


def test_without_its_file_a_dictionary_stores_plain_entries(tmp_path, caplog):
    ns = shelf.Namespace(
        "test.znone", schema=1, ttl=60, dictionary=Dictionary(tmp_path / "missing.zdict")
    )
    value = {"html": _page(random.Random(3))}
    with caplog.at_level(logging.WARNING, logger="shelf.compression"):
        assert shelf.fetch(ns, "d", lambda p: value) == value
    assert ns.key("d") == "test.znone:v1f3:d"
    assert "dictionary missing" in caplog.text
    head, _, body = _raw(ns, "d").partition(b"\n")
    assert "z" not in json.loads(head) and json.loads(body) == value



def test_a_shop_trains_its_own_dictionaries_beside_the_shipped_ones(tmp_path, settings):
    """`train_dictionaries` writes under SHELF_DICTIONARY_DIR, never over the app's file, and
    processes started with that setting compress with the shop's own dictionary."""
    shipped = tmp_path / "app" / "pages.zdict"
    shipped.parent.mkdir()
    _trained(shipped, seed=1)
    before = shipped.read_bytes()
    settings.SHELF_DICTIONARY_DIR = str(tmp_path / "own")
    dictionary = Dictionary(shipped)
    try:
        assert dictionary.path == shipped  # nothing trained yet: the shipped one
        shipped_id = dictionary.id
        ns = shelf.Namespace("test.zown", schema=1, ttl=60, dictionary=dictionary)
        rng = random.Random(9)
        for n in range(40):
            shelf.fetch(ns, n, lambda _p: {"html": _page(rng)})
        call_command("train_dictionaries", samples=40, stderr=io.StringIO(), stdout=io.StringIO())
        own = tmp_path / "own" / "app-pages.zdict"
        assert own.exists() and shipped.read_bytes() == before
        restarted = Dictionary(shipped)  # a process started after the training
        assert restarted.path == own
        assert restarted.id not in (0, shipped_id)
    finally:
        compression.DICTIONARIES.pop(shipped, None)
        core.NAMESPACES.pop("test.zown", None)
