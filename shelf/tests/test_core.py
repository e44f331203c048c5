"""The caching toolkit against the real test Redis and PostgreSQL."""

import json
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import OperationalError, transaction
from django_redis import get_redis_connection
from redis.cluster import RedisCluster

import shelf
from shelf import stats
from shelf.core import tag_key, versions_digest

NS = shelf.Namespace("test.thing", schema=1, ttl=60, key_tags=lambda part: (f"thing:{part}",))


class CountingLoader:
    def __init__(self, value=lambda part: {"part": part}, delay: float = 0.0):
        self.calls: list = []
        self.value = value
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, part):
        with self._lock:
            self.calls.append(part)
        time.sleep(self.delay)
        return self.value(part)


@pytest.mark.also_on("cluster")
def test_miss_then_hit_runs_loader_once_and_stores_json():
    loader = CountingLoader()
    assert shelf.fetch(NS, 7, loader) == {"part": 7}
    assert shelf.fetch(NS, 7, loader) == {"part": 7}
    assert loader.calls == [7]
    raw = get_redis_connection("default").get(NS.key(7))
    head, newline, body = raw.partition(b"\n")  # JSON, never pickle: a header, then the value
    assert newline and json.loads(body) == {"part": 7}
    # One digest of its tags' current versions; the tags themselves its key names.
    header = json.loads(head)
    assert "k" not in header
    current = [get_redis_connection("default").get(tag_key(t)).decode()
               for t in ("ns:test.thing", "thing:7")]  # fmt: skip
    assert header["h"] == versions_digest(current)
    counts = stats.snapshot()
    assert counts["test.thing:miss"] >= 1 and counts["test.thing:hit"] >= 1


@pytest.mark.also_on("cluster")
def test_bump_invalidates_only_entries_with_that_tag():
    loader = CountingLoader()
    shelf.fetch_many(NS, [1, 2], lambda parts: {p: loader(p) for p in parts})
    shelf.bump("thing:1")
    shelf.fetch_many(NS, [1, 2], lambda parts: {p: loader(p) for p in parts})
    assert loader.calls == [1, 2, 1]


@pytest.mark.also_on("cluster")
def test_namespace_generation_expires_every_entry():
    loader = CountingLoader()
    shelf.fetch(NS, 1, loader)
    shelf.fetch(NS, 2, loader)
    shelf.bump(NS.generation)
    shelf.fetch(NS, 1, loader)
    shelf.fetch(NS, 2, loader)
    assert loader.calls == [1, 2, 1, 2]


@pytest.mark.also_on("cluster")
def test_none_is_cached_briefly():
    loader = CountingLoader(value=lambda part: None)
    assert shelf.fetch(NS, 9, loader) is None
    assert shelf.fetch(NS, 9, loader) is None
    assert loader.calls == [9]
    assert 0 < get_redis_connection("default").pttl(NS.key(9)) <= NS.negative_ttl * 1100


@pytest.mark.also_on("cluster")
def test_ttl_has_jitter_and_grace():
    ns = shelf.Namespace("test.jitter", schema=1, ttl=100, grace=50)
    for part in range(20):
        shelf.fetch(ns, part, lambda p: p)
    pttls = [get_redis_connection("default").pttl(ns.key(p)) for p in range(20)]
    assert all(135_000 <= t <= 160_000 for t in pttls)
    assert len({round(t, -2) for t in pttls}) > 5, "keys loaded together must not expire together"


@pytest.mark.also_on("cluster")
def test_fifty_threads_on_a_cold_key_run_the_loader_once():
    # Waiters give up after the namespace's `wait` and load themselves: with fifty threads on
    # a busy two-core machine, the default 2 s can pass before a waiter's first poll returns.
    ns = shelf.Namespace("test.cold", schema=1, ttl=60, wait=10.0)
    loader = CountingLoader(delay=0.3)
    barrier = threading.Barrier(50)
    results = []

    def worker():
        barrier.wait()
        results.append(shelf.fetch(ns, "cold", loader))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loader.calls == ["cold"]
    assert results == [{"part": "cold"}] * 50


@pytest.mark.also_on("cluster")
def test_expired_entry_is_served_stale_while_another_caller_refreshes():
    ns = shelf.Namespace("test.stale", schema=1, ttl=1, grace=60)
    shelf.fetch(ns, 1, lambda p: "old")
    time.sleep(1.2)
    # Another process holds the refresh lock: we must serve the stale value, not wait.
    get_redis_connection("default").set(f"shelf:lock:{ns.key(1)}", "someone", px=5000)
    loader = CountingLoader(value=lambda p: "new")
    assert shelf.fetch(ns, 1, loader) == "old"
    assert loader.calls == []
    assert stats.snapshot()["test.stale:stale"] >= 1


@pytest.mark.also_on("cluster")
def test_expired_entry_is_refreshed_by_the_caller_that_takes_the_lock():
    ns = shelf.Namespace("test.refresh", schema=1, ttl=1, grace=60)
    shelf.fetch(ns, 1, lambda p: "old")
    time.sleep(1.2)
    assert shelf.fetch(ns, 1, lambda p: "new") == "new"
    assert shelf.fetch(ns, 1, lambda p: "newer") == "new"


@pytest.mark.also_on("cluster")
def test_waiting_for_a_stuck_loader_is_bounded():
    ns = shelf.Namespace("test.stuck", schema=1, ttl=60, wait=0.3)
    get_redis_connection("default").set(f"shelf:lock:{ns.key(1)}", "dead", px=60_000)
    started = time.monotonic()
    assert shelf.fetch(ns, 1, lambda p: "loaded") == "loaded"
    assert time.monotonic() - started < 1.0


@pytest.mark.repeat(25)
@pytest.mark.also_on("cluster")
@pytest.mark.django_db(transaction=True)
def test_loader_that_read_before_a_commit_cannot_store_a_value_served_later():
    """The set-after-delete race, made deterministic: the loader pauses between its read of
    PostgreSQL and its write to Redis while an update commits and invalidates."""
    group = Group.objects.create(name="Old name")
    ns = shelf.Namespace("test.race", schema=1, ttl=600, key_tags=lambda pk: (f"group:{pk}",))
    read_done, commit_done = threading.Event(), threading.Event()

    def slow_loader(pk):
        name = Group.objects.get(pk=pk).name
        read_done.set()
        commit_done.wait(5)
        return name

    result = {}
    reader = threading.Thread(
        target=lambda: result.update(v=shelf.fetch(ns, group.pk, slow_loader))
    )
    reader.start()
    assert read_done.wait(5)
    with transaction.atomic():
        Group.objects.filter(pk=group.pk).update(name="New name")
        shelf.bump_on_commit(f"group:{group.pk}")
    commit_done.set()
    reader.join(5)
    assert result["v"] == "Old name"  # that request read before the commit
    redis = get_redis_connection("default")
    if not isinstance(redis, RedisCluster):  # a cluster stores it, and reads refuse it
        assert not redis.exists(ns.key(group.pk)), (
            "a loader that read before the commit must not store its value"
        )
    fresh = shelf.fetch(ns, group.pk, lambda pk: Group.objects.get(pk=pk).name)
    assert fresh == "New name"


@pytest.mark.also_on("cluster")
@pytest.mark.django_db
def test_bump_waits_for_the_commit(django_capture_on_commit_callbacks):
    loader = CountingLoader()
    shelf.fetch(NS, 5, loader)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shelf.bump_on_commit("thing:5")
    shelf.fetch(NS, 5, loader)
    assert loader.calls == [5], "invalidated before the commit"
    for callback in callbacks:
        callback()
    shelf.fetch(NS, 5, loader)
    assert loader.calls == [5, 5]


@pytest.mark.also_on("cluster")
def test_shelf_disabled_sends_every_read_to_the_loader(settings):
    settings.SHELF_ENABLED = False
    loader = CountingLoader()
    shelf.fetch(NS, 3, loader)
    shelf.fetch(NS, 3, loader)
    assert loader.calls == [3, 3]
    assert not get_redis_connection("default").exists(NS.key(3))


@pytest.mark.django_db  # the first call after an outage drains the bump outbox (PostgreSQL)
def test_open_breaker_lets_a_call_through_after_its_reset_timeout(monkeypatch):
    from shelf import backend

    monkeypatch.setattr(backend.breaker, "reset_timeout", 0.2)
    backend.breaker.open()
    loader = CountingLoader()
    shelf.fetch(NS, 4, loader)  # open: straight to the loader, nothing stored
    assert not get_redis_connection("default").exists(NS.key(4))
    time.sleep(0.25)
    backend.request_started()
    shelf.fetch(NS, 4, loader)  # the trial call succeeds: closed again, the entry is stored
    assert backend.breaker.current_state == "closed"
    assert get_redis_connection("default").exists(NS.key(4))


@pytest.mark.slow
def test_one_timeout_opens_the_breaker_for_the_whole_host_at_once():
    """A hung Redis: the first call that waits out the timeout opens the breaker (not the
    SHELF_BREAKER_FAILURES-th), for this process and, through the host flag, its others."""
    from django.test import override_settings

    from shelf import backend
    from shelf.tests.clustering import cluster_caches
    from shelf.tests.servers import redis_server

    with redis_server() as server, override_settings(CACHES=cluster_caches(server.url)):
        backend.reset()
        assert backend.call(lambda r: r.ping())
        server.pause()
        try:
            backend.request_started()
            with pytest.raises(backend.ShelfUnavailable):
                backend.call(lambda r: r.ping())
            assert backend.breaker.current_state == "open"
            assert backend._host.opened_at() > 0, "not opened for the host's other processes"
            backend.request_started()
            assert not backend.available()
        finally:
            server.resume()
        backend.reset()


def test_waiters_stop_waiting_when_the_loader_leaves_nothing_usable():
    ns = shelf.Namespace("test.abandoned", schema=1, ttl=60, wait=5.0)
    lock = f"shelf:lock:{ns.key(1)}"
    redis = get_redis_connection("default")
    redis.set(lock, "other", px=60_000)
    threading.Timer(0.2, redis.delete, args=[lock]).start()  # the other loader gives up
    started = time.monotonic()
    assert shelf.fetch(ns, 1, lambda p: "mine") == "mine"
    assert time.monotonic() - started < 1.0, "waited for the deadline instead"


def test_an_entry_without_early_refresh_is_a_miss_past_its_ttl_never_a_refresh():
    ns = shelf.Namespace("test.exact", schema=1, ttl=1, grace=60, early_refresh=False)
    source = {"value": "old"}
    loader = CountingLoader(value=lambda p: source["value"])
    assert shelf.fetch(ns, 1, loader) == "old"
    source["value"] = "new"
    assert shelf.fetch(ns, 1, loader) == "old", "reloaded before its TTL"
    time.sleep(1.2)
    # Past its TTL: not served, not refreshed behind the reader's back: loaded as a miss.
    assert shelf.fetch(ns, 1, loader) == "new"
    assert loader.calls == [1, 1]
    assert stats.snapshot()["test.exact:miss"] == 2
    assert "test.exact:stale" not in stats.snapshot()


class FailingLoader(CountingLoader):
    """PostgreSQL down: every call raises what psycopg's refused connection becomes."""

    def __init__(self, delay: float = 0.0, error: type[Exception] = OperationalError):
        super().__init__(delay=delay)
        self.error = error

    def __call__(self, part):
        super().__call__(part)
        raise self.error("connection refused")


def lock_of(ns, part) -> bytes | None:
    return get_redis_connection("default").get(f"shelf:lock:{ns.key(part)}")


@pytest.mark.also_on("cluster")
def test_an_invalidated_entry_is_served_stale_by_every_reader_while_postgresql_fails():
    ns = shelf.Namespace("test.down", schema=1, ttl=60, key_tags=lambda p: (f"down:{p}",))
    shelf.fetch(ns, 1, lambda p: "before the outage")
    shelf.bump("down:1")
    loader = FailingLoader()
    started = time.monotonic()
    # Before the fix the second read waited out the first one's lock (2 s) and then failed.
    served = [shelf.fetch(ns, 1, loader) for _ in range(4)]
    elapsed = time.monotonic() - started
    print(f"\n4 sequential reads with PostgreSQL failing: {elapsed * 1000:.0f} ms")
    assert served == ["before the outage"] * 4
    assert loader.calls == [1] * 4, "each read tried PostgreSQL: no one waited on a stale lock"
    assert lock_of(ns, 1) is None
    assert stats.snapshot()["test.down:stale"] == 4
    assert elapsed < ns.wait, "a reader waited for a lock that a failed load still held"
    # Once PostgreSQL answers, the next read loads the current value.
    assert shelf.fetch(ns, 1, lambda p: "after") == "after"


@pytest.mark.also_on("cluster")
def test_an_expired_entry_is_served_stale_and_its_refresh_lock_released_when_the_load_fails():
    ns = shelf.Namespace("test.expired-down", schema=1, ttl=1, grace=60)
    shelf.fetch(ns, 1, lambda p: "old")
    time.sleep(1.2)
    loader = FailingLoader()
    assert [shelf.fetch(ns, 1, loader) for _ in range(2)] == ["old", "old"]
    assert loader.calls == [1, 1], "the second read took the lock the first one released"
    assert lock_of(ns, 1) is None
    assert stats.snapshot()["test.expired-down:stale"] == 2, "one stale read each, not two"


def test_three_concurrent_readers_of_an_invalidated_entry_all_get_the_stale_copy():
    ns = shelf.Namespace(
        "test.down3", schema=1, ttl=60, wait=5.0, key_tags=lambda p: (f"down3:{p}",)
    )
    shelf.fetch(ns, 1, lambda p: "copy")
    shelf.bump("down3:1")
    # Slow enough that the two others find the first one's lock and wait on it.
    loader = FailingLoader(delay=0.3)
    barrier = threading.Barrier(3)
    results, errors = [], []

    def reader():
        barrier.wait()
        try:
            results.append(shelf.fetch(ns, 1, loader))
        except Exception as exc:  # collected: an assert in a thread would only warn
            errors.append(repr(exc))

    started = time.monotonic()
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - started
    print(f"\n3 concurrent readers with PostgreSQL failing: {elapsed * 1000:.0f} ms")
    assert errors == [] and results == ["copy"] * 3
    assert stats.snapshot()["test.down3:stale"] == 3
    assert lock_of(ns, 1) is None
    # The waiters saw the lock go with the failure, not at its 5 s timeout.
    assert elapsed < 3.0


def test_without_a_copy_the_database_error_reaches_the_caller_and_the_lock_is_released():
    ns = shelf.Namespace("test.nocopy", schema=1, ttl=60, wait=5.0)
    with pytest.raises(OperationalError):
        shelf.fetch(ns, 1, FailingLoader())
    assert lock_of(ns, 1) is None
    started = time.monotonic()
    assert shelf.fetch(ns, 1, lambda p: "loaded") == "loaded"
    assert time.monotonic() - started < 1.0, "the next reader waited for the failed load's lock"


def test_a_loader_failing_with_another_error_releases_its_lock_and_serves_no_stale_copy():
    ns = shelf.Namespace("test.bug", schema=1, ttl=60, key_tags=lambda p: (f"bug:{p}",))
    shelf.fetch(ns, 1, lambda p: "copy")
    shelf.bump("bug:1")
    with pytest.raises(ValueError):
        shelf.fetch(ns, 1, FailingLoader(error=ValueError))  # a bug, not an outage
    assert lock_of(ns, 1) is None
