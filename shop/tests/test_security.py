"""Deployment checks, login throttling, the search rate limit, and what the shop writes to Redis."""

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import current_app as app
from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django_redis import get_redis_connection

from cart import services as cart_services
from catalog.tests.factories import ProductFactory
from orders.tests.factories import DETAILS
from shelf import backend, core
from shelf.core import entry_envelope
from shelf.tests.servers import redis_server
from shop import security
from shop.middleware import PolicyMiddleware

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-pass-1234"
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x9!" + "k2Vq-7LmZ_pR4tW8yB1nC6dF0hJ3sG5aE" * 2,
    "DJANGO_ALLOWED_HOSTS": "shop.example",
    # Credentials in every URL (shop.W001); check --deploy connects to none of them.
    "DATABASE_URL": "postgres://shelf:db-pass@db.internal:5432/shelf",
    "REDIS_CACHE_URL": "redis://shelf:cache-pass@cache.internal:6379/0",
    "REDIS_STATE_URL": "redis://:state-pass@state.internal:6379/0",
    "CELERY_BROKER_URL": "redis://shelf:broker-pass@broker.internal:6379/0",
}


def _production(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, **PRODUCTION_ENV},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _production_settings() -> dict:
    names = [
        "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD", "SECURE_REFERRER_POLICY", "SECURE_SSL_REDIRECT",
        "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "TRUSTED_PROXIES", "DEBUG",
    ]  # fmt: skip
    done = _production(
        "import django, json; django.setup(); from django.conf import settings as s;"
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("bad", ["nginx.internal", "10.0.0.0/33", "127.0.0.1 ::1"])
def test_a_bad_trusted_proxies_value_stops_the_process_at_startup(bad):
    """Not at the first request that reads a client address: settings refuse it, so gunicorn,
    Celery and manage.py all stop at once, naming the value."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env = {**env, **PRODUCTION_ENV, "TRUSTED_PROXIES": f"127.0.0.1,{bad}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"TRUSTED_PROXIES: {bad!r} is not an IP address or network" in done.stderr


def test_check_deploy_passes_with_production_settings():
    done = _production(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_warns_about_servers_without_credentials():
    env = {**PRODUCTION_ENV, "REDIS_STATE_URL": "redis://state.internal:6379/0"}
    env.pop("DATABASE_URL")
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode != 0 and out.count("shop.W001") == 2, out
    assert "REDIS_STATE_URL has no password" in out and "DATABASE_URL has no password" in out


def _caches_on(cache_url: str, state_url: str) -> dict:
    caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
    caches["default"] = {**caches["default"], "LOCATION": cache_url}
    caches["state"] = {**caches["state"], "LOCATION": state_url}
    return caches


def test_cache_and_state_roles_that_require_a_password_are_used_with_the_urls_password():
    """requirepass on the server, the password in REDIS_CACHE_URL and REDIS_STATE_URL: pages
    come from the shelf, L1's own invalidation connection authenticates too (a hit costs no
    round trip, a save is seen at the next read), sessions and carts live in the state role."""
    alice = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    product = ProductFactory(price="10.00")
    url = f"/p/{product.slug}/"
    with redis_server(password="roles-pass-8c1f") as server:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).get("anything")  # the server does require it
        with override_settings(CACHES=_caches_on(server.url_for(0), server.url_for(1))):
            backend.reset()
            shopper = Client()
            shopper.force_login(alice)
            for _ in range(3):
                page = shopper.get(url).content.decode()
                assert "Hi, alice" in page and "$10.00" in page
            anonymous = Client()
            for _ in range(3):
                assert anonymous.get(url).status_code == 200
            assert backend.calls_in_request() == 0, "an L1 hit went to Redis"
            channel = core._l1 and core._l1._conn
            assert channel is not None, "L1's invalidation channel did not connect"
            product.price = "12.00"
            product.save()  # invalidated through the password-protected server
            assert "$12.00" in anonymous.get(url).content.decode()
            added = shopper.post("/cart/add/", {"product": product.pk, "quantity": 2})
            assert added.status_code == 302
            state = redis.Redis(port=server.port, password=server.password, db=1)
            assert state.hget(f"cart:u:{alice.pk}", f"p:{product.pk}") == b"2"
            assert redis.Redis(port=server.port, password=server.password, db=0).dbsize() > 0
        backend.reset()


def test_the_state_role_behind_sentinel_with_a_password_in_the_url():
    """REDIS_STATE_URL=redis://:<password>@<master name>/0 with REDIS_STATE_SENTINELS: the
    master that the Sentinel names is used with the password (sessions and carts work)."""
    from shelf.tests.servers import redis_sentinel_set
    from shop.tests.sentinels import sentinel_caches

    alice = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    product = ProductFactory()
    with redis_sentinel_set(password="state-pass-41d2") as servers:
        assert servers.url == "redis://:state-pass-41d2@shelfstate/0"
        with override_settings(CACHES=sentinel_caches(servers)):
            shopper = Client()
            shopper.force_login(alice)
            added = shopper.post("/cart/add/", {"product": product.pk, "quantity": 3})
            assert added.status_code == 302
            assert "Hi, alice" in shopper.get("/").content.decode()
            master = redis.Redis(port=servers.master_port, password=servers.password)
            assert master.hget(f"cart:u:{alice.pk}", f"p:{product.pk}") == b"3"


def test_check_deploy_can_fail():
    """The same check with a weak key and DEBUG on must fail: the test above can fail."""
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short", "DJANGO_DEBUG": "True"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "security.W009" in done.stderr + done.stdout


def test_production_cookies_are_host_prefixed_secure_httponly_and_samesite(client):
    prod = _production_settings()
    assert prod["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert prod["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert prod["SECURE_REFERRER_POLICY"] == "same-origin" and prod["X_FRAME_OPTIONS"] == "DENY"
    assert prod["SECURE_HSTS_SECONDS"] >= 31536000 and prod["DEBUG"] is False
    assert prod["TRUSTED_PROXIES"] == ["127.0.0.1", "::1"]
    cookie_settings = {k: v for k, v in prod.items() if k.startswith(("SESSION_", "CSRF_"))}
    product = ProductFactory()
    with override_settings(**cookie_settings):
        shopper = Client()
        shopper.get("/accounts/login/")
        shopper.post("/cart/add/", {"product": product.pk, "quantity": 1})
        for name in ("__Host-sessionid", "__Host-csrftoken"):
            morsel = shopper.cookies[name]
            assert morsel["secure"] and morsel["httponly"], name
            assert morsel["samesite"] == "Lax" and morsel["path"] == "/" and not morsel["domain"]


def test_every_page_sends_the_content_security_policy(client):
    """The browser suite (shop/tests/e2e) fails on any violation of it."""
    for url in ("/", "/accounts/login/", "/admin/login/", "/api/v1/search?q=x"):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def _through_policy(view) -> HttpResponse:
    request = RequestFactory().get("/somewhere/")
    middleware = PolicyMiddleware(view)
    middleware.process_request(request)
    return middleware.process_response(request, view(request))


def test_the_policy_built_once_is_django_csps_own_and_follows_the_settings():
    assert _through_policy(lambda r: HttpResponse("x"))["Content-Security-Policy"] == build_policy()
    report_only = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only):
        response = _through_policy(lambda r: HttpResponse("x"))
        assert "report-uri /csp-report/" in response["Content-Security-Policy-Report-Only"]
    assert "Content-Security-Policy-Report-Only" not in _through_policy(lambda r: HttpResponse(""))


def test_a_view_that_changes_its_policy_or_takes_a_nonce_still_gets_its_own():
    changed = csp_update({"img-src": ["https://pictures.example"]})(lambda r: HttpResponse("x"))
    assert "https://pictures.example" in _through_policy(changed)["Content-Security-Policy"]

    def with_nonce(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    # django-csp puts the nonce where a directive asks for it (csp.constants.NONCE).
    policy = {"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        response = _through_policy(with_nonce)
    nonce = response.content.decode().split("'")[1]
    assert f"script-src 'self' 'nonce-{nonce}'" in response["Content-Security-Policy"]


# --- Login throttling (django-axes, database handler) ------------------------------------------


def _login(client: Client, password: str, forwarded: str | None = None, **extra):
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/accounts/login/", {"username": "alice", "password": password}, **extra)


def test_logins_are_locked_out_after_five_failures_from_one_address(settings):
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(attacker, "wrong").status_code == 200
    locked = _login(attacker, "wrong")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert _login(attacker, PASSWORD).status_code == 429, "the right password is refused too"
    # X-Forwarded-For is not trusted without a configured proxy: it cannot dodge the lockout.
    assert _login(Client(), PASSWORD, forwarded="203.0.113.9").status_code == 429


def test_behind_our_proxy_the_lockout_is_per_real_client_address(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's REMOTE_ADDR: our nginx
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "wrong", forwarded="198.51.100.7")
    assert _login(Client(), PASSWORD, forwarded="198.51.100.7").status_code == 429
    # Another shopper behind the same nginx; a spoofed left-most entry changes nothing.
    assert _login(Client(), PASSWORD, forwarded="192.0.2.1").status_code == 302
    spoof = "192.0.2.55, 198.51.100.7"
    assert _login(Client(), PASSWORD, forwarded=spoof).status_code == 429


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.20", "192.0.2.1", "198.51.100.20"),  # not our proxy: header ignored
        ("10.0.0.2", "192.0.2.1", "192.0.2.1"),  # our nginx: what it saw
        ("10.0.0.2", "203.0.113.5, 192.0.2.1", "192.0.2.1"),  # the client's own entry ignored
        ("10.0.0.2", "192.0.2.1, 10.0.0.9", "192.0.2.1"),  # two of our proxies in a row
        ("10.0.0.2", "not-an-ip, 10.0.0.9", "10.0.0.9"),  # garbage left of our proxies
        ("10.0.0.2", "", "10.0.0.2"),
        ("2001:db8::7", "192.0.2.1", "192.0.2.1"),  # networks of either family
    ],
)
def test_x_forwarded_for_is_read_only_from_a_trusted_proxy(rf, settings, peer, forwarded, client):
    from shop.security import client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    request = rf.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == client


def test_rotating_x_forwarded_for_from_an_untrusted_peer_evades_no_limit(settings):
    """The app reached directly (no nginx in front), with production's trusted proxies."""
    settings.TRUSTED_PROXIES = _production_settings()["TRUSTED_PROXIES"]
    settings.SEARCH_RATE_LIMIT = "5/m"
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    ProductFactory(name="Nordvik Lamp")
    direct = {"REMOTE_ADDR": "198.51.100.20"}
    searches = [
        Client().get("/search/?q=lamp", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}", **direct).status_code
        for i in range(8)
    ]
    assert searches == [200] * 5 + [429] * 3
    logins = [
        _login(Client(), "wrong", forwarded=f"203.0.113.{i}", **direct).status_code
        for i in range(settings.AXES_FAILURE_LIMIT + 3)
    ]
    assert logins[-3:] == [429] * 3
    assert _login(Client(), PASSWORD, forwarded="203.0.113.99", **direct).status_code == 429


def test_one_address_trying_many_usernames_is_locked_out(settings):
    users = get_user_model().objects
    for i in range(settings.AXES_FAILURE_LIMIT + 2):
        users.create_user(f"shopper{i}", f"shopper{i}@example.com", PASSWORD)
    answers = [
        Client().post("/accounts/login/", {"username": f"shopper{i}", "password": "wrong"})
        for i in range(settings.AXES_FAILURE_LIMIT + 2)
    ]
    assert [a.status_code for a in answers[: settings.AXES_FAILURE_LIMIT - 1]] == [200] * (
        settings.AXES_FAILURE_LIMIT - 1
    )
    assert {a.status_code for a in answers[settings.AXES_FAILURE_LIMIT :]} == {429}
    right = Client().post("/accounts/login/", {"username": "shopper0", "password": PASSWORD})
    assert right.status_code == 429, "the address is locked, whatever the name"
    other = Client(REMOTE_ADDR="192.0.2.44")
    assert (
        other.post("/accounts/login/", {"username": "shopper0", "password": PASSWORD}).status_code
        == 302
    )


def test_sign_ups_are_rate_limited_per_address(settings):
    settings.SIGNUP_RATE_LIMIT = "3/m"

    def signup(client: Client, i: int):
        return client.post("/accounts/signup/", {
            "username": f"new{i}", "email": f"new{i}@example.com",
            "password1": PASSWORD, "password2": PASSWORD,
        })  # fmt: skip

    assert [signup(Client(), i).status_code for i in range(3)] == [302] * 3
    limited = signup(Client(), 3)
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert not get_user_model().objects.filter(username="new3").exists()
    assert Client().get("/accounts/signup/").status_code == 200, "the form itself is not limited"
    assert signup(Client(REMOTE_ADDR="192.0.2.45"), 4).status_code == 302


def test_with_both_redis_roles_down_login_is_still_throttled():
    """Axes keeps its counts in PostgreSQL: Redis being away changes nothing for logins."""
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    with redis_server() as dead:
        url = dead.url
        dead.kill()
    caches = {a: dict(c) for a, c in settings.CACHES.items()}
    for alias in ("default", "state"):
        caches[alias] = {**caches[alias], "LOCATION": url}
    with override_settings(CACHES=caches):
        assert _login(Client(), PASSWORD).status_code == 302, "logging in works without Redis"
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _login(Client(), "wrong")
        assert _login(Client(), PASSWORD).status_code == 429


# --- Search rate limit (django-ratelimit on the cache Redis, fail-open) -------------------------


def test_searches_are_rate_limited_per_client(settings):
    settings.SEARCH_RATE_LIMIT = "5/m"
    ProductFactory(name="Nordvik Lamp")
    client = Client()
    statuses = [client.get("/search/?q=lamp").status_code for _ in range(5)]
    assert statuses == [200] * 5
    limited = client.get("/search/?q=lamp")
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert client.get("/api/v1/search?q=lamp").status_code == 429, "one budget for both"
    assert client.get("/").status_code == 200, "other pages are not limited"
    # A spoofed X-Forwarded-For does not give a new budget without a trusted proxy...
    assert client.get("/search/?q=lamp", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429
    # ...behind our nginx, each real client has its own.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get("/search/?q=lamp", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200


def test_a_search_costs_no_round_trip_of_its_own_and_the_counts_reach_redis(settings):
    settings.SEARCH_RATE_LIMIT = "2/m"
    ProductFactory(name="Nordvik Lamp")
    client = Client()
    assert [client.get("/search/?q=lamp").status_code for _ in range(2)] == [200, 200]
    # The first refusal reads the header's department menu for its page (into L1 from then on).
    assert client.get("/search/?q=lamp").status_code == 429
    # Counted in process: the requests between two syncs (SYNC_INTERVAL) go to Redis for
    # nothing but the page, and the page comes from L1.
    security._counts.sync_now()
    for _ in range(2):
        assert client.get("/search/?q=lamp").status_code == 429
        assert backend.calls_in_request() == 0
    security._counts.sync_now()
    counter = next(get_redis_connection("default").scan_iter(match="rl:*"))
    assert int(get_redis_connection("default").get(counter)) == 5
    assert 0 < get_redis_connection("default").ttl(counter) <= 60 + 5  # django-ratelimit fudge


def test_counts_of_other_processes_count_at_the_next_sync(settings):
    settings.SEARCH_RATE_LIMIT = "3/m"
    ProductFactory(name="Nordvik Lamp")
    client = Client()
    assert client.get("/search/?q=lamp").status_code == 200
    security._counts.sync_now()
    counter = next(get_redis_connection("default").scan_iter(match="rl:*"))
    get_redis_connection("default").incrby(counter, 5)  # another process's searches
    time.sleep(security.SYNC_INTERVAL)
    assert client.get("/search/?q=lamp").status_code == 429


def test_with_the_cache_redis_down_searches_are_served_unlimited(settings):
    settings.SEARCH_RATE_LIMIT = "2/m"
    ProductFactory(name="Nordvik Lamp")
    with redis_server() as cache:
        caches = {a: dict(c) for a, c in settings.CACHES.items()}
        caches["default"] = {**caches["default"], "LOCATION": cache.url}
        with override_settings(CACHES=caches):
            cache.kill()
            client = Client()
            responses = [client.get("/search/?q=lamp") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 6
    assert "Nordvik Lamp" in responses[-1].content.decode()


# --- Nothing pickled in any Redis role ----------------------------------------------------------


def _unsafe(value: bytes) -> bool:
    """Whether a stored value could be a pickle (protocol 2+ starts with PROTO, 0x80)."""
    if value[:1] == b"\x80":
        return True
    if entry_envelope(value) is not None:
        return False  # a shelf entry: a JSON header, and a JSON value (zstd-compressed or not)
    try:
        json.loads(value)
        return False
    except ValueError:
        pass
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return True
    # Plain text (numbers, kombu's binding lines); protocol 0/1 pickles end with "." after
    # opcodes such as "(dp0" or "c__builtin__".
    return text.endswith(".") and ("(dp" in text or "\nc" in text or "cposix" in text)


def _values(r) -> list[bytes]:
    found = []
    for key in r.scan_iter(count=500):
        kind = r.type(key).decode()
        if kind == "string":
            found.append(r.get(key))
        elif kind == "hash":
            found += list(r.hgetall(key).values())
        elif kind == "list":
            found += r.lrange(key, 0, -1)
        elif kind == "set":
            found += list(r.smembers(key))
        elif kind == "zset":
            found += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
    return [v for v in found if v is not None]


def test_the_detector_flags_pickles():
    assert _unsafe(pickle.dumps({"a": 1}))
    assert _unsafe(pickle.dumps({"a": 1}, protocol=0))
    assert not _unsafe(b'{"d":{"id":1}}') and not _unsafe(b"42")


def test_nothing_the_shop_writes_to_redis_is_pickled(settings):
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    product = ProductFactory(name="Nordvik Lamp")
    shopper = Client()
    _login(shopper, PASSWORD)
    for url in ("/", f"/p/{product.slug}/", f"/c/{product.category.slug}/", "/search/?q=lamp",
                f"/api/v1/products/{product.pk}", "/cart/"):  # fmt: skip
        assert shopper.get(url).status_code == 200
    shopper.post("/cart/add/", {"product": product.pk, "quantity": 2})
    shopper.post("/checkout/", DETAILS)
    guest = Client()
    guest.post("/cart/add/", {"product": product.pk, "quantity": 1})
    cart_services.carts_sync_dirty()
    app.send_task("cart.tasks.carts_sync")  # a message waiting on the real test broker
    import redis

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    roles = {"cache": get_redis_connection("default"), "state": get_redis_connection("state"),
             "broker": broker}  # fmt: skip
    counted = {}
    for role, r in roles.items():
        values = _values(r)
        counted[role] = len(values)
        bad = [v[:80] for v in values if _unsafe(v)]
        assert not bad, (role, bad)
    print(f"\nvalues scanned per Redis role: {counted}")
    assert counted["cache"] > 10 and counted["state"] > 3 and counted["broker"] >= 1
    assert user.pk
