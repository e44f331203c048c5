"""The per-process L1 (shelf/l1.py): kept fresh by Redis's invalidation messages, emptied and
bypassed whenever that channel cannot be trusted."""

import time

import pytest
from django.test import override_settings
from django_redis import get_redis_connection

import shelf
from shelf import backend, core, l1, outbox
from shelf.tests.clustering import cluster_caches
from shelf.tests.servers import redis_server

NS = shelf.Namespace("test.l1", schema=1, ttl=600, key_tags=lambda part: (f"l1thing:{part}",))


class Source:
    """A loader over a dict standing in for PostgreSQL, counting its calls."""

    def __init__(self, **values) -> None:
        self.values = dict(values)
        self.calls = 0

    def __call__(self, part):
        self.calls += 1
        return self.values[part]


def read(part, source: Source):
    return shelf.fetch(NS, part, source)


def counting_calls(fn) -> int:
    backend.request_started()
    fn()
    return backend.calls_in_request()


def test_a_hit_held_in_l1_costs_no_round_trip():
    source = Source(a="one")
    assert read("a", source) == "one"  # a miss: loaded and stored
    assert read("a", source) == "one"  # from Redis, now kept in L1
    assert counting_calls(lambda: read("a", source)) == 0
    assert source.calls == 1


def test_a_bump_by_another_client_is_seen_by_the_very_next_read():
    source = Source(a="one")
    read("a", source), read("a", source)
    for n in range(20):
        source.values["a"] = f"v{n}"
        # Another process's bump: only Redis's invalidation message can tell this one.
        core.write_bumps(get_redis_connection("default"), ["l1thing:a"])
        assert read("a", source) == f"v{n}"
        assert read("a", source) == f"v{n}"


def test_an_entry_rewritten_in_redis_leaves_l1():
    source = Source(a="one")
    read("a", source), read("a", source)
    r = get_redis_connection("default")
    envelope = core.entry_envelope(r.get(NS.key("a")))
    envelope["d"] = "rewritten"
    r.set(NS.key("a"), core.entry_bytes(envelope))
    assert read("a", source) == "rewritten"


def test_a_flush_empties_l1():
    source = Source(a="one")
    read("a", source), read("a", source)
    get_redis_connection("default").flushdb()
    source.values["a"] = "after the flush"
    assert read("a", source) == "after the flush"


def test_a_lost_channel_empties_l1_and_reads_go_to_redis_until_it_is_back():
    source = Source(a="one")
    read("a", source), read("a", source)
    r = get_redis_connection("default")
    r.client_kill_filter(_type="pubsub")  # the channel (it is subscribed); no data connection
    source.values["a"] = "two"
    core.write_bumps(r, ["l1thing:a"])  # its message is lost with the connection
    # The read that finds the channel gone must not serve what L1 held.
    assert read("a", source) == "two"
    assert counting_calls(lambda: read("a", source)) >= 1, "L1 used without a channel"
    time.sleep(l1.RECONNECT_INTERVAL + 0.1)
    read("a", source), read("a", source)  # reconnected; kept again
    assert counting_calls(lambda: read("a", source)) == 0


def test_a_value_whose_invalidation_arrived_while_it_was_fetched_is_not_kept():
    store = core._l1
    read("a", Source(a="one"))  # connects the channel
    token = store.begin(backend.client, core._prefixes(), outbox.settled)
    key = core.tag_key("l1thing:race")
    get_redis_connection("default").incr(key)  # written after our (pretend) fetch began
    # The next begin reads the message.
    assert store.begin(backend.client, core._prefixes(), outbox.settled) is not None
    store.put(token, [(key, "1", 64)])
    assert store.get_many([key]) == {}


def test_l1_is_bounded_by_bytes_least_recently_used_out_first():
    store = l1.Store(max_bytes=1000, ttl=60)
    for n in range(10):
        store.put(f"k{n}", n, 100, now=0)
    store.get("k0", now=0)  # used: now the most recent
    store.put("k10", 10, 100, now=0)
    assert store.bytes <= 1000
    assert store.get("k1", now=0) is l1.MISSING and store.get("k0", now=0) == 0
    store.put("huge", "x", 900, now=0)  # over an eighth of the bound: never kept
    assert store.get("huge", now=0) is l1.MISSING
    assert store.get("k0", now=61) is l1.MISSING, "kept past the backstop TTL"


@pytest.mark.slow
@pytest.mark.django_db
def test_a_hung_redis_leaves_l1_serving_until_a_bump_waits_in_the_outbox():
    with redis_server() as server:
        caches = cluster_caches(server.url)  # the test CACHES, the cache alias on this server
        with override_settings(CACHES=caches):
            backend.reset()
            source = Source(a="one", b="two")
            for part in ("a", "a", "b", "b"):
                read(part, source)
            assert counting_calls(lambda: read("a", source)) == 0
            server.pause()  # SIGSTOP: a hang, not a refusal
            try:
                # This read's PING (one per quarter lease) goes unanswered; the read waits out
                # one timeout, then the loader answers...
                time.sleep(core.settings.SHELF_L1_LEASE / 4)
                backend.request_started()
                assert read("a", source) == "one"
                loads = source.calls
                time.sleep(core.settings.SHELF_L1_LEASE + 0.05)
                # ...for a lease: Redis hangs, but the channel has not failed and no bump waits
                # in the outbox, so L1 serves what it holds, with no round trip to Redis.
                assert counting_calls(lambda: read("a", source)) == 0
                assert read("a", source) == "one" and source.calls == loads
                # A write meanwhile: its bump cannot reach Redis and waits in the outbox...
                source.values["a"] = "from PostgreSQL"
                backend.request_started()
                shelf.bump("l1thing:a")
                assert not outbox.settled()
                started = time.monotonic()
                # ...so L1 is not trusted at all (not even for "b", untouched): the loader
                # answers, within a second.
                backend.request_started()
                assert read("a", source) == "from PostgreSQL"
                assert read("b", source) == "two" and source.calls == loads + 2
                assert time.monotonic() - started < 1.0
            finally:
                server.resume()
        backend.reset()


def test_l1_is_off_on_a_cluster(on_cluster, caplog):
    source = Source(a="one")
    read("a", source), read("a", source)
    assert core._l1 is None
    assert "shelf L1 off" in caplog.text


FOLLOWED = shelf.Namespace("test.l1follow", schema=1, ttl=600, key_tags=lambda p: (f"l1f:{p}",))


def test_a_kept_page_with_what_it_shows_is_dropped_by_any_invalidation_of_its_keys():
    page = Source(p={"shows": [1, 2]})
    shown = {1: "one", 2: "two"}

    def follow(value):
        return [shelf.Request(FOLLOWED, value["shows"], lambda ids: {i: shown[i] for i in ids})]

    def read_page():
        _value, (follows,) = shelf.fetch_with(NS, "p", page, follow)
        return follows

    for _ in range(3):
        assert read_page() == {1: "one", 2: "two"}
    assert NS.key("p") in core._l1._results, "kept whole once every key was a fresh hit"
    assert counting_calls(read_page) == 0
    shown[2] = "TWO"
    core.write_bumps(get_redis_connection("default"), ["l1f:2"])  # another process's write
    assert read_page() == {1: "one", 2: "TWO"}
    assert read_page() == {1: "one", 2: "TWO"}


def test_a_read_of_no_keys_does_not_even_look_at_l1(monkeypatch):
    """A first visit's recently viewed cards ask for none: no channel read, no round trip."""
    begun = []
    real = core._l1_begin
    monkeypatch.setattr(core, "_l1_begin", lambda: begun.append(1) or real())
    load = lambda parts: {p: "one" for p in parts}  # noqa: E731
    assert counting_calls(lambda: shelf.fetch_many(NS, [], load)) == 0
    assert begun == []
    assert shelf.fetch_many(NS, ["a"], load) == {"a": "one"}
    assert begun == [1]
