"""Fault injection: every test starts the servers it breaks (on spare loopback ports) and stops
them. The shop's promises: Redis trouble never breaks a page, nothing is lost, and PostgreSQL
trouble gives the shop's own 503 page, never a traceback.

Figures (requests, 5xx, timings) are printed with -s and listed in the README's "Faults".
"""

import json
import re
import signal
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
import redis
from celery import current_app as app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection, connections
from django.test import Client, override_settings
from django_redis import get_redis_connection

import shelf
from cart import services as cart_services
from cart.models import Cart
from catalog.cache import PAGE
from catalog.models import Product
from orders import services
from orders.models import Order
from orders.tests.factories import cart_with, order_for
from search.tests.factories import search_catalog
from shelf import backend, outbox
from shelf.core import entry_envelope
from shelf.models import PendingBump
from shelf.tests.servers import (
    celery_worker,
    database_url_for,
    django_process,
    gunicorn_server,
    hammer,
    redis_server,
    spare_port,
    tcp_proxy,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PASSWORD = "a-long-pass-1234"


@pytest.fixture
def shop_data():
    data = search_catalog()
    data["slugs"] = list(Product.objects.order_by("pk").values_list("slug", flat=True))
    return data


def _pages(data) -> list[str]:
    return [
        "/",
        "/c/computers/",
        "/c/laptops/?sort=price",
        "/search/?q=laptop",
        *(f"/p/{slug}/" for slug in data["slugs"]),
    ]


def _caches_with(alias: str, url: str, timeout: float | None = None) -> dict:
    caches = {a: dict(conf) for a, conf in settings.CACHES.items()}
    caches[alias] = {**caches[alias], "LOCATION": url}
    if timeout is not None:
        options = {**caches[alias]["OPTIONS"], "SOCKET_TIMEOUT": timeout,
                   "SOCKET_CONNECT_TIMEOUT": timeout}  # fmt: skip
        caches[alias]["OPTIONS"] = options
    return caches


def _summary(name: str, results) -> Counter:
    statuses = Counter(status for _, _, status, _ in results)
    slowest = max(took for *_, took in results)
    print(f"\n{name}: {len(results)} requests, statuses {dict(statuses)}, slowest {slowest:.3f} s")
    return statuses


# --- Cache Redis ------------------------------------------------------------------------------


def test_cache_redis_killed_while_requests_flow_through_gunicorn(shop_data):
    """SIGKILL the cache Redis under load: no 5xx, pages from PostgreSQL; a new Redis on the
    same port is used again (entries stored, hits) without restarting gunicorn."""
    paths = _pages(shop_data)
    with (
        redis_server() as cache,
        gunicorn_server(
            database_url_for(connection.settings_dict["NAME"]),
            TEST_REDIS_CACHE_URL=cache.url,
            SHELF_BREAKER_RESET="1",
        ) as web,
    ):
        for path in paths:
            assert web.get(path)[0] == 200, path
        # Killed at 1.5 s, back at 4 s: the issue fixes no length for this outage, and past
        # the breaker's first opening every second of it looks the same.
        results = hammer(
            web, paths, seconds=6, threads=4,
            events=[(1.5, cache.kill), (4, cache.start)],
        )  # fmt: skip
        statuses = _summary("cache Redis SIGKILL", results)
        assert statuses == {200: len(results)}, statuses
        during = [r for r in results if 2 < r[0] < 3.5]
        assert during and all(status == 200 for _, _, status, _ in during)
        time.sleep(1.5)  # the breaker's reset (1 s): the next request tries Redis again
        for path in paths:
            assert web.get(path)[0] == 200
        fresh = redis.Redis(port=cache.port)
        hits_before = fresh.info("stats")["keyspace_hits"]
        for path in paths:
            assert web.get(path)[0] == 200
        assert fresh.exists(PAGE.key(shop_data["slugs"][0]))
        assert fresh.info("stats")["keyspace_hits"] > hits_before, "no hits after the restart"
        assert web.workers_booted() == 2, "a gunicorn worker was restarted"
        assert web.process.poll() is None


def test_cache_redis_hung_ten_seconds_every_request_answers_within_a_second(shop_data):
    """SIGSTOP the cache Redis for 10 s under 8 concurrent clients per worker, through real
    gunicorn (2 workers of 4 threads, 30 s worker timeout): every request answers, 200, within
    1 s; no worker is killed. The pages each worker holds in L1 are served on hold (no bump
    waits in the outbox), the rest from PostgreSQL once the shared breaker opened."""
    paths = _pages(shop_data)
    with (
        redis_server() as cache,
        gunicorn_server(
            database_url_for(connection.settings_dict["NAME"]),
            TEST_REDIS_CACHE_URL=cache.url,
        ) as web,
    ):
        for path in paths:
            assert web.get(path)[0] == 200, path
        try:
            results = hammer(
                web, paths, seconds=12, threads=16,
                events=[(1, cache.pause), (11, cache.resume)],
            )  # fmt: skip
        finally:
            cache.resume()
        statuses = _summary("cache Redis SIGSTOP 10 s, 16 clients", results)
        hung = [r for r in results if 1.5 < r[0] < 10.5]
        slow = [(round(at, 2), path, round(took, 3)) for at, path, _, took in results if took > 1]
        took = sorted(r[3] for r in hung)
        print(
            f"while hung: {len(hung)} requests, p50 {took[len(took) // 2]:.3f} s, slowest "
            f"{took[-1]:.3f} s; over 1 s: {len(slow)}; errors: {len(results) - statuses[200]}"
        )
        assert statuses == {200: len(results)}, statuses
        assert not slow, slow
        assert len(hung) > 100
        log = web.log_text()
        assert "WORKER TIMEOUT" not in log and web.workers_booted() == 2, log[-2000:]


def _warm_page(client: Client, url: str) -> str:
    body = client.get(url).content.decode()
    assert client.get(url).status_code == 200
    return body


def test_a_bump_that_misses_a_hung_cache_redis_is_applied_before_the_shelf_is_read_again(
    shop_data, monkeypatch
):
    product = shop_data["x15"]
    url = f"/p/{product.slug}/"
    with redis_server() as cache, override_settings(CACHES=_caches_with("default", cache.url, 0.2)):
        monkeypatch.setattr(backend.breaker, "reset_timeout", 0.5)
        client = Client()
        assert "$999.00" in _warm_page(client, url)
        cache.pause()
        try:
            product.price = Decimal("777.00")
            product.save()  # after the commit the bump meets a hung Redis
        finally:
            cache.resume()
        assert PendingBump.objects.count() >= 1, "the bump was dropped"
        # The old entry survived the pause: without the outbox it would be served as valid.
        stored = entry_envelope(get_redis_connection("default").get(PAGE.key(product.slug)))
        assert stored is not None and "$999.00" in stored["d"]["html"]
        time.sleep(0.6)  # past the breaker's reset timeout
        backend.request_started()
        body = client.get(url).content.decode()
        assert "$777.00" in body and "$999.00" not in body
        assert PendingBump.objects.count() == 0


# Set-up of the other process of the host in the tests below: its own tries at the cache and
# state Redis, and a price saved as the admin does.
OTHER_PROCESS = """
from decimal import Decimal
from django_redis import get_redis_connection
from catalog.models import Product
from shelf import backend

def cache_call():
    backend.request_started()
    try:
        backend.call(lambda r: r.ping())
        answer = "ok"
    except backend.ShelfUnavailable:
        answer = "unavailable"
    return [answer, backend.calls_in_request()]

def state_get():
    try:
        get_redis_connection("state").get("anything")
    except Exception as exc:
        return type(exc).__name__
    return "ok"

def save_price(pk, price):
    backend.request_started()
    product = Product.objects.get(pk=pk)
    product.price = Decimal(price)
    product.save()
    return str(product.price)
"""


def test_a_bump_one_process_could_not_make_is_drained_for_the_others_by_the_beat_task(shop_data):
    """Two real processes: the other one reaches the cache Redis through a proxy that is cut
    (a partial outage), so its price save leaves its bump in the outbox. This one never lost
    Redis and its breaker never opened: it finds the old entry valid until beat drains."""
    product = shop_data["aero"]
    url = f"/p/{product.slug}/"
    client = Client()
    assert "$1299.00" in _warm_page(client, url)
    cache = settings.CACHES["default"]["LOCATION"].rsplit("/", 1)
    host, port = cache[0].rsplit(":", 1)
    with (
        tcp_proxy(host.rsplit("/", 1)[-1], int(port)) as proxy,
        django_process(
            OTHER_PROCESS,
            connection.settings_dict["NAME"],
            TEST_REDIS_CACHE_URL=f"redis://127.0.0.1:{proxy.port}/{cache[1]}",
        ) as other,
    ):
        assert other.ask("cache_call()") == ["ok", 1]
        proxy.cut()
        assert other.ask(f"save_price({product.pk}, '1111.00')") == "1111.00"
    assert PendingBump.objects.count() >= 1  # the catalog's tags and search's
    assert backend.breaker.current_state == "closed"
    assert "$1299.00" in client.get(url).content.decode()
    from shelf.tasks import shelf_outbox_drain

    assert shelf_outbox_drain() >= 1
    assert "$1111.00" in client.get(url).content.decode()
    assert shelf_outbox_drain() == 0 and PendingBump.objects.count() == 0


def test_a_breaker_that_opens_in_one_process_opens_in_the_hosts_others(monkeypatch):
    """Two real processes on the same cache and state Redis, which hangs: once this process's
    breakers open, the other skips both servers without trying them (no timeout of its own),
    though its own breakers never saw a failure; this process's successful probe after the
    resume closes the cache breaker for the other too, long before the other's own reset."""
    with redis_server() as server:
        caches = _caches_with("default", server.url_for(0), 0.2)
        caches["state"] = {**caches["state"], "LOCATION": server.url_for(1)}
        with (
            override_settings(CACHES=caches),
            django_process(
                OTHER_PROCESS,
                connection.settings_dict["NAME"],
                TEST_REDIS_CACHE_URL=server.url_for(0),
                TEST_REDIS_STATE_URL=server.url_for(1),
                SHELF_BREAKER_RESET="60",  # the other's own breaker would wait a minute
                REDIS_STATE_BREAKER_RESET="60",
            ) as other,
        ):
            backend.reset()
            monkeypatch.setattr(backend.breaker, "reset_timeout", 1)
            assert other.ask("cache_call()") == ["ok", 1]
            assert other.ask("state_get()") == "ok"
            server.pause()
            try:
                for _ in range(settings.SHELF_BREAKER_FAILURES):
                    backend.request_started()
                    with pytest.raises(backend.ShelfUnavailable):
                        backend.call(lambda r: r.ping())
                with pytest.raises(redis.RedisError):
                    get_redis_connection("state").get("anything")
                assert backend.breaker.current_state == "open"
                # Refused before any round trip: no call counted, the breaker's own error.
                assert other.ask("cache_call()") == ["unavailable", 0]
                assert other.ask("state_get()") == "StateUnavailable"
            finally:
                server.resume()
            time.sleep(1.1)  # this process's reset (1 s); the other's is 60 s
            backend.request_started()
            assert backend.call(lambda r: r.ping())  # the probe succeeds: closed everywhere
            assert other.ask("cache_call()") == ["ok", 1]
            backend.reset()


# --- State Redis ------------------------------------------------------------------------------


def test_state_redis_flushed_carts_come_back_and_nobody_is_logged_out(shop_data):
    alice = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    shopper, guest = Client(), Client()
    login = shopper.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert login.status_code == 302
    for client, product, n in ((shopper, shop_data["x15"], 2), (guest, shop_data["wave"], 3)):
        response = client.post("/cart/add/", {"product": product.pk, "quantity": n})
        assert response.status_code == 302
    assert cart_services.carts_sync_dirty() == 2
    # A change after the last sync: lost with Redis, by design (the README says "as of their
    # last sync"); the write-behind lag bounds what can be lost.
    shopper.post("/cart/add/", {"product": shop_data["usbc"].pk, "quantity": 1})

    get_redis_connection("state").flushdb()

    home = shopper.get("/")
    assert home.status_code == 200 and "Hi, alice" in home.content.decode()
    cart = shopper.get("/cart/").content.decode()
    assert shop_data["x15"].name in cart and shop_data["usbc"].name not in cart
    assert shop_data["wave"].name in guest.get("/cart/").content.decode()
    # Changing the session again after the flush: no SessionInterrupted (400) page.
    for client in (shopper, guest):
        response = client.post("/cart/add/", {"product": shop_data["cable"].pk, "quantity": 1})
        assert response.status_code == 302, response.status_code
        assert shop_data["cable"].name in client.get("/cart/").content.decode()
    assert "Hi, alice" in shopper.get("/checkout/").content.decode()
    assert Cart.objects.get(owner=f"u:{alice.pk}")


def test_state_redis_hung_anonymous_unaffected_signed_in_pages_within_a_second(shop_data):
    """SIGSTOP the state Redis for 10 s under load through gunicorn: anonymous visitors (no
    cookie) keep their throughput and no request over 1 s; a signed-in shopper gets pages
    within 1 s (session from PostgreSQL), a cart change says "try again"; afterwards the cart
    is exactly what it was."""
    alice = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    paths, product = _pages(shop_data), shop_data["x15"]
    pause, resume = 2.0, 12.0  # 10 s, as issue 16 asks
    with redis_server() as state, override_settings(CACHES=_caches_with("state", state.url, 0.3)):
        shopper = Client()
        shopper.force_login(alice)
        assert shopper.post("/cart/add/", {"product": product.pk, "quantity": 2}).status_code == 302
        cookie = {"Cookie": f"sessionid={shopper.cookies['sessionid'].value}"}
        cart_key = f"cart:u:{alice.pk}"
        cart_before = redis.Redis(port=state.port).hgetall(cart_key)
        assert cart_before[f"p:{product.pk}".encode()] == b"2"
        with gunicorn_server(
            database_url_for(connection.settings_dict["NAME"]),
            TEST_REDIS_STATE_URL=state.url,
            TEST_DATABASE_CONN_MAX_AGE="60",
        ) as web:
            for path in paths:
                assert web.get(path)[0] == 200, path
                assert "Hi, alice" in web.get(path, headers=cookie)[1]
            signed_in: list[tuple[float, int, bool, float]] = []
            started = time.monotonic()
            stop = started + resume + 1

            def browse() -> None:
                i = 0
                while time.monotonic() < stop:
                    at = time.monotonic() - started
                    status, body, took = web.get(paths[i % len(paths)], headers=cookie)
                    signed_in.append((at, status, "Hi, alice" in body, took))
                    i += 1

            shopper_thread = threading.Thread(target=browse)
            shopper_thread.start()
            change: list = []

            def cart_change() -> None:
                began = time.monotonic()
                response = shopper.post(
                    "/cart/add/", {"product": product.pk, "quantity": 1}, follow=True
                )
                change.append((response, time.monotonic() - began))

            try:
                anonymous = hammer(
                    web, paths, seconds=resume + 1, threads=2,
                    events=[(pause, state.pause), (pause + 2, cart_change), (resume, state.resume)],
                )  # fmt: skip
            finally:
                state.resume()
                shopper_thread.join(30)
        cart_after = redis.Redis(port=state.port).hgetall(cart_key)

    def rate(rows, low: float, high: float) -> float:
        return sum(1 for r in rows if low <= r[0] < high) / (high - low)

    hung_anonymous = [r for r in anonymous if pause + 0.1 < r[0] < resume]
    hung_signed_in = [r for r in signed_in if pause + 0.1 < r[0] and r[0] + r[3] < resume]
    before, during = rate(anonymous, 0.5, pause), rate(anonymous, pause + 0.1, resume)
    response, took = change[0]
    print(
        f"\nstate Redis hung {resume - pause:g} s: anonymous {before:.0f} req/s before, "
        f"{during:.0f} while hung (slowest {max(r[3] for r in hung_anonymous):.3f} s, "
        f"statuses {dict(Counter(r[2] for r in anonymous))}); signed in {len(hung_signed_in)} "
        f"pages while hung, slowest {max(r[3] for r in hung_signed_in):.3f} s, statuses "
        f"{dict(Counter(r[1] for r in hung_signed_in))}; cart change answered in {took:.3f} s"
    )
    assert {r[2] for r in anonymous} == {200}
    assert max(r[3] for r in hung_anonymous) < 1.0
    assert during > 0.5 * before, (before, during)  # generous: the machine is shared
    assert len(hung_signed_in) > 5
    assert {r[1] for r in hung_signed_in} == {200}
    assert all(greeted for _, _, greeted, _ in hung_signed_in)
    assert max(r[3] for r in hung_signed_in) < 1.0
    assert response.status_code == 200 and "cannot be changed right now" in (
        response.content.decode()
    )
    assert cart_after == cart_before, (cart_before, cart_after)


# --- PostgreSQL ---------------------------------------------------------------------------------


def test_postgresql_unreachable_shelved_pages_are_served_and_the_rest_is_a_clear_503(shop_data):
    db = connection.settings_dict
    product, moved, cold = shop_data["x15"], shop_data["studio"], shop_data["cable"]
    alice = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    warm = ["/", "/c/computers/", "/c/laptops/?sort=price", "/search/?q=laptop",
            f"/p/{product.slug}/", f"/p/{moved.slug}/"]  # fmt: skip
    with (
        tcp_proxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)) as proxy,
        gunicorn_server(
            database_url_for(db["NAME"], "127.0.0.1", proxy.port), DATABASE_CONNECT_TIMEOUT="2"
        ) as web,
    ):
        for path in warm:
            assert web.get(path)[0] == 200, path
        # A signed-in shopper whose session and user entry are on the shelf (the session is
        # made in-process: gunicorn shares the test database and state Redis).
        shopper = Client()
        shopper.force_login(alice)
        cookie = {"Cookie": f"sessionid={shopper.cookies['sessionid'].value}"}
        assert "Hi, alice" in web.get(f"/p/{product.slug}/", headers=cookie)[1]
        # Entries made invalid by a write just before the outage: the loader fails, the last
        # value is served (stale-if-error).
        shelf.bump(f"product:{moved.pk}")
        proxy.cut()
        try:
            served = {path: web.get(path) for path in warm}
            for path, (status, body, _) in served.items():
                assert status == 200, (path, status, body[:300])
                assert "Traceback" not in body
            assert product.name in served[f"/p/{product.slug}/"][1]
            assert moved.name in served[f"/p/{moved.slug}/"][1]
            assert "Nordvik X15 Laptop" in served["/search/?q=laptop"][1]
            need_db = [f"/p/{cold.slug}/", "/search/?q=kettle", "/c/audio/"]
            for path in need_db:
                status, body, _ = web.get(path)
                assert status == 503, (path, status, body[:500])
                assert "We will be back in a moment" in body and "Shelf" in body
                assert "Traceback" not in body and "OperationalError" not in body
                assert "<!--shelf:" not in body
            for path in warm:
                status, body, _ = web.get(path, headers=cookie)
                assert status == 200 and "Hi, alice" in body, (path, status, body[:300])
            # The entry invalidated just before the outage, read again and again, and by three
            # readers at once: each failed reload releases its lock, so no reader waits it out
            # and then fails (issue 16 saw 200, 503, 200, 503 and, concurrently, 6 x 503).
            moved_url = f"/p/{moved.slug}/"
            again = [web.get(moved_url)[0] for _ in range(4)]
            together: list[int] = []
            readers = [
                threading.Thread(target=lambda: together.extend(
                    web.get(moved_url)[0] for _ in range(2)))
                for _ in range(3)
            ]  # fmt: skip
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join(30)
            assert again == [200] * 4 and together == [200] * 6, (again, together)
            assert web.get("/healthz")[0] == 503
            print(
                f"\nPostgreSQL cut: {len(warm)} shelved pages 200 (also signed in), "
                f"{len(need_db)} pages 503"
            )
        finally:
            proxy.restore()
        # Back once PostgreSQL is reachable (its breaker lets a probe through within 1 s).
        assert wait_until(lambda: web.get(f"/p/{cold.slug}/")[0] == 200, 5, 0.1)


FREEZE, THAW = 2.0, 32.0  # 30 s of hung PostgreSQL, as issue 16 asks
HEALTH_AT = (3.5, 7, 10.5, 14, 17.5, 21, 24.5, 28, 31)  # /healthz asked during the freeze


def test_postgresql_hung_shelved_pages_stay_fast_the_rest_get_a_quick_503(
    shop_data, postgres_cluster
):
    """SIGSTOP every process of a PostgreSQL cluster of the test's own for 30 s under load
    through gunicorn with persistent connections: shelf hits 200 each under 1 s, other pages
    the 503 page (JSON under /api/) within 3 s, /healthz says so within 1 s each time it is
    asked, no worker timeout, and everything answers again within 5 s of the SIGCONT."""
    db = connection.settings_dict
    postgres_cluster.load(db["NAME"])
    cold = shop_data["cable"]
    warm = ["/", "/c/computers/", "/c/laptops/?sort=price", "/search/?q=laptop",
            *(f"/p/{slug}/" for slug in shop_data["slugs"] if slug != cold.slug)]  # fmt: skip
    # Never read before the freeze, so not on the shelf (an unknown id is a miss too).
    need_db = [f"/p/{cold.slug}/", "/search/?q=kettle", "/c/audio/", "/api/v1/products/987654"]
    health: list[tuple[float, int, str, float]] = []
    misses: list[tuple[float, str, int, float]] = []
    thawed: list[float] = []

    def check_health() -> None:
        health.append(web.get("/healthz"))

    def thaw() -> None:
        postgres_cluster.resume()
        thawed.append(time.monotonic())

    def uncached_load() -> threading.Thread:
        def run() -> None:
            # On the main load's clock (this one starts 0.1 s after the freeze).
            misses.extend(
                (at + FREEZE + 0.1, *rest)
                for at, *rest in hammer(web, need_db, seconds=THAW - FREEZE - 1, threads=2)
            )

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with gunicorn_server(
        database_url_for(db["NAME"], "127.0.0.1", postgres_cluster.port),
        DATABASE_CONNECT_TIMEOUT="2",
        TEST_DATABASE_CONN_MAX_AGE="60",
    ) as web:
        for _ in range(3):  # every thread of both workers holds a connection, most likely
            for path in warm:
                assert web.get(path)[0] == 200, path
        backends = len(postgres_cluster.pids()) - 1
        loads: list[threading.Thread] = []
        try:
            results = hammer(
                web, warm, seconds=THAW + 1, threads=4,
                events=[(FREEZE, postgres_cluster.pause), (FREEZE + 0.1, lambda: loads.append(
                    uncached_load())), *((t, check_health) for t in HEALTH_AT), (THAW, thaw)],
            )  # fmt: skip
        finally:
            postgres_cluster.resume()
            for thread in loads:
                thread.join(30)
        # Full service: every page that needs the database answers again, and /healthz says so.
        answers = {**dict.fromkeys(need_db, 200), "/api/v1/products/987654": 404, "/healthz": 200}
        back = wait_until(lambda: all(web.get(p)[0] == s for p, s in answers.items()), 5, 0.1)
        recovered = time.monotonic() - thawed[0]
        shelf_hits = [r for r in results if r[0] > FREEZE + 0.1 and r[0] + r[3] < THAW]
        misses = [r for r in misses if r[0] + r[3] < THAW]
        print(
            f"\nPostgreSQL SIGSTOPped {THAW - FREEZE:g} s (postmaster and {backends} children): "
            f"{len(results)} requests, while hung {len(shelf_hits)} shelf hits (slowest "
            f"{max(r[3] for r in shelf_hits):.3f} s, statuses "
            f"{dict(Counter(r[2] for r in shelf_hits))}), {len(misses)} uncached (slowest "
            f"{max(r[3] for r in misses):.3f} s, statuses {dict(Counter(r[2] for r in misses))});"
            f" /healthz {[(s, round(t, 3)) for s, _, t in health]}; full service "
            f"{recovered:.2f} s after the SIGCONT; slowest shelf hits "
            f"{sorted((round(r[3], 3), r[1], round(r[0], 2)) for r in shelf_hits)[-3:]}"
        )
        assert backends >= 5, "not one backend per connection held: was the load warm?"
        assert len(shelf_hits) > 100 and len(misses) > 20
        assert {r[2] for r in shelf_hits} == {200}, Counter(r[2] for r in shelf_hits)
        assert max(r[3] for r in shelf_hits) < 1.0
        # Every one the 503 page (JSON under /api/), within 3 s. (The 200s an earlier version
        # of this test saw were requests that ended after the thaw: their start was read on
        # the uncached load's own clock, which starts 2.1 s later.)
        assert Counter(r[2] for r in misses) == {503: len(misses)}, misses
        assert max(r[3] for r in misses) < 3.0
        assert len(health) == len(HEALTH_AT)
        for status, body, took in health:
            assert status == 503 and took < 1.0, (status, took)
            assert json.loads(body)["checks"]["postgresql"]["ok"] is False
        assert back, "not every page answered within 5 s of the SIGCONT"
        status, body, _ = web.get(f"/api/v1/products/{cold.pk}")
        assert status == 200 and json.loads(body)["id"] == cold.pk
        log = web.log_text()
        assert "WORKER TIMEOUT" not in log and web.workers_booted() == 2, log[-2000:]


def test_postgresql_hung_uncached_pages_are_the_503_page_and_json_under_the_api(
    shop_data, postgres_cluster
):
    """What the 503 answers during a hang look like (one worker, no load)."""
    db = connection.settings_dict
    postgres_cluster.load(db["NAME"])
    cold = shop_data["cable"]
    with gunicorn_server(
        database_url_for(db["NAME"], "127.0.0.1", postgres_cluster.port),
        DATABASE_CONNECT_TIMEOUT="2",
        TEST_DATABASE_CONN_MAX_AGE="60",
        WEB_CONCURRENCY="1",
    ) as web:
        assert web.get("/")[0] == 200
        postgres_cluster.pause()
        try:
            page = web.get(f"/p/{cold.slug}/")
            api = web.get("/api/v1/products/987654")
        finally:
            postgres_cluster.resume()
    print(f"\nhung PostgreSQL, 503s after {page[2]:.3f} s (page) and {api[2]:.3f} s (API)")
    assert page[0] == 503 and "We will be back in a moment" in page[1] and page[2] < 3.0
    assert api[0] == 503 and api[2] < 3.0
    assert json.loads(api[1])["error"] == "temporarily unavailable"


def test_a_web_request_leaves_the_probe_of_a_hung_postgresql_to_a_thread(settings):
    """In-process, through a frozen TCP proxy: a connection kept from before the failure gets a
    short health check, and is dropped when the server does not answer it; once the breaker's
    interval is over, a web request does not wait out a connect timeout (at least 2 s): one
    probe connects in a thread, the request that started it waits for it only as long as its
    read deadline, and the others are refused at once until that probe has its answer; after
    the thaw the probe closes the breaker."""
    from django.db import OperationalError

    from shop.db import base as db

    settings.DATABASE_BREAKER_RESET = 0.2
    real = connection.settings_dict
    with tcp_proxy(real["HOST"] or "127.0.0.1", int(real["PORT"] or 5432)) as proxy:
        hung = db.DatabaseWrapper(
            {**real, "HOST": "127.0.0.1", "PORT": str(proxy.port), "CONN_MAX_AGE": 0,
             "OPTIONS": {**real["OPTIONS"], "connect_timeout": 2}}, "hung",
        )  # fmt: skip
        kept = db.DatabaseWrapper(hung.settings_dict, "kept")  # a connection from before
        kept.connection = kept.get_new_connection(kept.get_connection_params())
        kept.health_check_enabled, kept.health_check_done = True, False
        db.breaker.failed()  # one slow query, say: the server itself is fine
        with db.read_deadline(1.0):
            kept.close_if_health_check_failed()
        assert kept.connection is not None, "a connection that answers was dropped"
        kept.health_check_done = False
        proxy.freeze()
        try:
            db.breaker.failed()
            # Checked with DATABASE_RECHECK_TIMEOUT (0.2 s), not the 1 s read deadline.
            started = time.monotonic()
            with db.read_deadline(1.0):
                kept.close_if_health_check_failed()
            assert kept.connection is None and time.monotonic() - started < 0.6
            time.sleep(0.25)  # the interval is over: the next connect is the probe
            refused: list[tuple[str, float]] = []
            for _ in range(3):
                started = time.monotonic()
                with db.read_deadline(0.3), pytest.raises(OperationalError) as error:
                    hung.ensure_connection()
                refused.append((str(error.value), time.monotonic() - started))
            print(f"\nrefused while the probe waits: {[(m[:40], round(t, 4)) for m, t in refused]}")
            assert "probing it" in refused[0][0]
            assert all("failed moments ago" in m for m, _ in refused)
            assert max(t for _, t in refused) < 1.0, "a request waited for a connect"
            assert max(t for _, t in refused[1:]) < 0.2, "waited for another's probe"
            assert not db.breaker.is_closed()
        finally:
            proxy.thaw()
        # The probe's connect goes through once the proxy answers (or the next one does).
        assert wait_until(db.breaker.is_closed, 10, 0.05), "the probe never closed the breaker"
        # A breaker left open while the server is fine again (or by an earlier process): the
        # request that probes waits for the probe, then connects; no 503.
        db.breaker.failed()
        time.sleep(0.25)
        with db.read_deadline(1.0):
            hung.get_new_connection(hung.get_connection_params()).close()
        assert db.breaker.is_closed()


def test_postgresql_unreachable_logged_in_shopper_keeps_browsing_shelved_pages(shop_data):
    """In-process: a session refresh that cannot reach PostgreSQL is kept in Redis, not a 503."""
    from shop import sessions

    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    client = Client(raise_request_exception=False)
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    url = f"/p/{shop_data['x15'].slug}/"
    assert "Hi, alice" in client.get(url).content.decode()
    state = get_redis_connection("state")
    key = f":1:session:{client.cookies['sessionid'].value}"
    assert state.exists(key)

    def refused(*args, **kwargs):
        from django.db.utils import OperationalError

        raise OperationalError("connection refused (simulated in the session's database save)")

    # Make the next request refresh PostgreSQL's copy, and that write fail.
    original = sessions.DB_REFRESH
    sessions.DB_REFRESH = -1
    try:
        from django.contrib.sessions.backends import db as db_sessions

        saved = db_sessions.SessionStore.save
        db_sessions.SessionStore.save = refused
        try:
            response = client.get(url)
        finally:
            db_sessions.SessionStore.save = saved
    finally:
        sessions.DB_REFRESH = original
    assert response.status_code == 200 and "Hi, alice" in response.content.decode()


def test_a_database_error_in_a_view_gives_the_503_page_not_a_traceback(shop_data, monkeypatch):
    from django.db.utils import OperationalError

    from catalog import selectors

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(selectors, "_load_product_page", down)
    response = Client(raise_request_exception=False).get(f"/p/{shop_data['wave'].slug}/")
    body = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "We will be back in a moment" in body and "Connection refused" not in body


# --- Celery -------------------------------------------------------------------------------------


def _synced(owner: str) -> dict[int, int]:
    cart = Cart.objects.filter(owner=owner).first()
    return dict(cart.lines.values_list("product_id", "quantity")) if cart else {}


def test_broker_down_while_a_shopper_changes_the_cart_then_synced_when_it_is_back(shop_data):
    product = shop_data["x15"]
    with (
        redis_server() as broker,
        celery_worker(
            connection.settings_dict["NAME"], TEST_CELERY_BROKER_URL=broker.url, beat=True
        ),
    ):
        shopper = Client()
        broker.kill()
        started = time.monotonic()
        response = shopper.post("/cart/add/", {"product": product.pk, "quantity": 2}, follow=True)
        took = time.monotonic() - started
        assert response.status_code == 200 and "Added to your cart." in (response.content.decode())
        owner = f"s:{shopper.session[cart_services.SESSION_KEY]}"
        time.sleep(3)
        assert _synced(owner) == {}, "nothing can sync without a broker"
        broker.start()  # the same port, empty: the worker and beat reconnect
        assert wait_until(lambda: _synced(owner) == {product.pk: 2}, timeout=40)
        print(f"\nbroker down: cart change answered in {took:.3f} s, synced after restart")


def test_worker_killed_while_sending_a_confirmation_loses_no_email(shop_data, tmp_path):
    owner = "s:killed-mail"
    cart_with(owner, {shop_data["x15"].pk: 1})
    order = order_for(owner)
    assert len(mail.outbox) == 1  # placed in-process (eager): reset to "not sent yet"
    Order.objects.filter(pk=order.pk).update(confirmation_sent_at=None)
    mail.outbox.clear()
    app.control.purge()  # earlier tests' messages on the test broker would come first
    with celery_worker(
        connection.settings_dict["NAME"],
        TEST_EMAIL_BACKEND="shop.tests.mailers.SlowFileBackend",
        TEST_EMAIL_DIR=str(tmp_path),
    ) as worker:
        app.send_task("orders.tasks.send_order_confirmation", args=[order.pk])
        assert wait_until(lambda: any(tmp_path.iterdir()), timeout=60), "the task never ran"
        worker.send_signal(signal.SIGKILL)  # mid-task: sent, not yet recorded
        worker.wait(10)
    order.refresh_from_db()
    assert order.confirmation_sent_at is None
    # The sweep (beat, every minute) confirms what no task finished; once is enough.
    assert services.order_confirmations_send_due(older_than=0) == 1
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None
    assert [m.to for m in mail.outbox] == [[order.email]]
    assert re.search(order.number, mail.outbox[0].subject)
    assert services.order_confirmations_send_due(older_than=0) == 0
    from orders.tasks import send_order_confirmation

    assert send_order_confirmation(order.pk) is False
    assert len(mail.outbox) == 1


def test_outbox_survives_both_redis_and_postgresql_trouble_without_raising(monkeypatch):
    """A bump while the cache Redis is gone goes to the outbox; with PostgreSQL cut off too it
    is logged as lost, nothing raises; once both are back the outbox drains exactly once."""
    # The breaker's reset (SHELF_BREAKER_RESET, 5 s) as short as in the gunicorn tests (1 s
    # there): the wait for it is the test's longest part, and its length proves nothing here.
    monkeypatch.setattr(backend.breaker, "reset_timeout", 0.5)
    with (
        redis_server() as cache,
        override_settings(CACHES=_caches_with("default", cache.url, 0.2)),
    ):
        cache.kill()
        shelf.bump("test:kept")  # Redis refuses: kept in PostgreSQL
        assert outbox.pending() == 1
        outcome: list = []

        def with_both_down() -> None:
            # This thread's own connection goes to a port nobody listens on (PostgreSQL
            # unreachable); the test's own connection is left alone.
            own = connections["default"]
            own.settings_dict = {**own.settings_dict, "HOST": "127.0.0.1", "PORT": spare_port()}
            try:
                shelf.bump("test:lost")
                outcome.append(("drained", outbox.drain_now()))
            except Exception as exc:  # what the test is about: nothing may escape
                outcome.append(("raised", exc))
            finally:
                own.close()

        thread = threading.Thread(target=with_both_down)
        thread.start()
        thread.join(30)
        assert outcome == [("drained", 0)], outcome
        assert outbox.pending() == 1  # "test:lost" is logged as lost, "test:kept" still waits
        cache.start()  # the same port, empty
        time.sleep(backend.breaker.reset_timeout + 0.1)
        backend.request_started()
        assert outbox.drain_now() == 1
        assert outbox.pending() == 0 and outbox.drain_now() == 0
        assert redis.Redis(port=cache.port).exists("shelf:tag:test:kept")
