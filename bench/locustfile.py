"""The benchmark's shoppers for locust (headless; started by bench/run.py, one run per phase).

Each locust user is one shopper with its own cookies and its own seeded choices
(bench/workload.py); it sends requests back to back, without think time, so that the two
gunicorn workers are never idle. Every request is written to BENCH_SAMPLES as one JSON line
(start time, page type, latency, status, the `X-SQL-Count` the bench settings add, whether it
failed, the path of a product page, the `X-Shelf-Calls` the bench settings add); bench/report.py
keeps the ones inside measured windows.

Environment: BENCH_WORKLOAD (the catalog file from bench/prepare.py), BENCH_SEED,
BENCH_SAMPLES, BENCH_STARTED (touched when the test starts), BENCH_ONLY (optional, one kind of
request for the ceiling phases: `product` sends the workload's product pages only; `bare` and
`prerendered` the ceiling views; `product-hit`, `home`, `category` and `search` a fixed set of
anonymous pages, `product-signed-in` the product set with every visit signed in
(bench.workload.hit_paths; bench/run.py fetches each once before the phase), each shopper going
round it from its own offset and every request from another client address).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import deque
from http.cookiejar import Cookie
from pathlib import Path
from urllib.parse import urlencode

from locust import FastHttpUser, constant, events, task

from bench.workload import TEST_CARD, Catalog, Shopper, hit_paths

CATALOG = Catalog.load(Path(os.environ["BENCH_WORKLOAD"]))
SEED = int(os.environ.get("BENCH_SEED", "42"))
ONLY = os.environ.get("BENCH_ONLY", "")
SAMPLES = Path(os.environ["BENCH_SAMPLES"])
STARTED = os.environ.get("BENCH_STARTED")
FIXED_PATHS = {kind: hit_paths(CATALOG, kind) for kind in ("home", "category", "search")}
# The product hits, anonymous and signed in: the most popular product pages.
FIXED_PATHS["product-hit"] = FIXED_PATHS["product-signed-in"] = hit_paths(CATALOG, "product")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_index = itertools.count()
_samples: list[tuple] = []
_PRICE = b'class="price big"'
_HIDDEN = re.compile(rb'name="(token|seen_total)" value="([^"]*)"')
_CHOSEN = re.compile(rb'<input type="hidden" name="product" value="(\d+)"')
_REMOVE = re.compile(rb'action="/cart/remove/".*?name="product" value="(\d+)"', re.S)


@events.test_start.add_listener
def _started(environment, **kwargs) -> None:
    if STARTED:  # written whole, then renamed: run.py must never read half of it
        partial = Path(f"{STARTED}.partial")
        partial.write_text(f"{time.time()}\n")
        partial.replace(STARTED)


@events.request.add_listener
def _record(request_type, name, response_time, response, exception, start_time, context=None,
            **kwargs):  # fmt: skip
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    sql = headers.get("X-SQL-Count")
    calls = headers.get("X-Shelf-Calls")
    path = (context or {}).get("path", "") if name == "product" else ""
    _samples.append(
        (round(start_time, 4), name, round(response_time, 2), status,
         int(sql) if sql is not None else None, exception is not None, path,
         int(calls) if calls is not None else None)
    )  # fmt: skip


@events.quitting.add_listener
def _write(environment, **kwargs) -> None:
    with SAMPLES.open("w") as out:
        for sample in _samples:
            out.write(json.dumps(sample, separators=(",", ":")) + "\n")


def _in_stock(page: bytes) -> bool:
    """Whether a product page's own stock badge (right below the price) says it can be bought."""
    at = page.find(_PRICE)
    return at < 0 or b"badge-out" not in page[at : at + 400]


class ShopperUser(FastHttpUser):
    wait_time = constant(0)
    # Several requests of one shopper never overlap: one connection is enough.
    concurrency = 1

    def on_start(self) -> None:
        self.shopper = Shopper(CATALOG, SEED, next(_index))
        self.begin_visit()
        # Each shopper from its own offset: the users together go round the whole set.
        self.fixed = itertools.cycle(FIXED_PATHS.get(ONLY) or [""])
        self.fixed_sent = 0
        for _ in range(self.shopper.index):
            next(self.fixed)

    def begin_visit(self) -> None:
        self.client.cookiejar.clear()
        session, self.remaining = self.shopper.new_visit()
        if ONLY == "product-signed-in" and session is None and CATALOG.sessions:
            # Not drawn from the shopper's stream: one session per shopper, for the whole phase.
            session = CATALOG.sessions[
                (self.shopper.index + self.shopper.visits) % len(CATALOG.sessions)
            ]
        elif ONLY in FIXED_PATHS:
            session = None
        if session is not None:
            self.client.cookiejar.set_cookie(_cookie("sessionid", session))
        # Each visit comes from its own address, as the production proxy (nginx) reports it in
        # X-Forwarded-For (TRUSTED_PROXIES): per-client limits see many shoppers, not
        # one. Loopback-range addresses: a header only, nothing is ever sent to them.
        n = self.shopper.index * 4096 + self.shopper.visits
        self.client_address = f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        self.seen: deque[tuple[int, str]] = deque(maxlen=5)  # recent in-stock products
        self.in_cart: set[int] = set()

    @task
    def act(self) -> None:
        if ONLY in ("bare", "prerendered"):
            self.get(f"/bench/{ONLY}/", ONLY)
            return
        if ONLY in FIXED_PATHS:
            # Each request from another address, as if from another shopper: per-client limits
            # (60 searches a minute) would otherwise answer most of a phase with 429.
            self.fixed_sent += 1
            n = self.shopper.index << 16 | self.fixed_sent & 0xFFFF
            self.client_address = f"127.{128 + (n >> 16 & 127)}.{n >> 8 & 255}.{n & 255}"
            self.get(next(self.fixed), ONLY)
            return
        if self.remaining <= 0:
            self.begin_visit()
        self.remaining -= 1
        action = self.shopper.next_action()
        if ONLY in ("product", "product-signed-in") and action.kind != "product":
            return
        if action.kind == "product":
            self.view_product(action.product_id, action.path)
        elif action.kind in ("category", "search"):
            self.get(action.path, action.kind)
        elif action.kind == "cart_add":
            self.add_to_cart(action.quantity)
        else:
            self.check_out()

    # Steps ---------------------------------------------------------------------------------

    def view_product(self, product_id: int, path: str) -> None:
        response = self.get(path, "product")
        if response.status_code == 200 and _in_stock(response.content or b""):
            # What the page's form adds: the product, or the variant the page chose.
            chosen = _CHOSEN.search(response.content or b"")
            self.seen.append((int(chosen[1]) if chosen else product_id, path))

    def add_to_cart(self, quantity: int = 1) -> None:
        if not self.seen:
            # Nothing seen yet that can be bought: look at something first.
            action = self.shopper.next_product()
            self.view_product(action.product_id, action.path)
            if not self.seen:
                return
        product_id, path = self.seen[-1]
        data = {"product": product_id, "quantity": quantity, "next": path}
        if self.post("/cart/add/", data, "cart_add") is not None:
            self.in_cart.add(product_id)

    def check_out(self) -> None:
        if not self.in_cart:
            self.add_to_cart()
        form = self.get("/checkout/", "checkout", allow_redirects=False)
        if form.status_code != 200:
            return  # the cart was empty after all (e.g. the only product sold out)
        details = self.shopper.shipping_details()
        if self.post("/checkout/", details, "checkout") is None:
            return
        review = self.get("/checkout/review/", "checkout")
        fields = dict(_HIDDEN.findall(review.content or b""))
        if review.status_code != 200 or b"token" not in fields:
            self.empty_cart()  # something in it can no longer be ordered
            return
        place = {
            "token": fields[b"token"].decode(),
            "seen_total": fields[b"seen_total"].decode(),
            "card_number": TEST_CARD,
        }
        location = self.post("/checkout/place/", place, "checkout")
        if location and location.startswith("/orders/"):
            self.get(location, "checkout")
            self.in_cart.clear()
        else:
            self.empty_cart()

    def empty_cart(self) -> None:
        """Give up on this cart (a product sold out meanwhile): remove what is in it."""
        page = self.get("/cart/", "checkout")
        for product_id in dict.fromkeys(_REMOVE.findall(page.content or b"")):
            self.post("/cart/remove/", {"product": product_id.decode()}, "checkout")
        self.in_cart.clear()

    def get(self, path: str, name: str, **kwargs):
        headers = {"X-Forwarded-For": self.client_address}
        return self.client.get(path, name=name, headers=headers, context={"path": path}, **kwargs)

    def post(self, path: str, data: dict, name: str) -> str | None:
        """POST a form with the CSRF cookie's token; return the redirect's target, if any."""
        token = next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), "")
        body = urlencode({**data, "csrfmiddlewaretoken": token})
        headers = {**FORM, "X-Forwarded-For": self.client_address}
        response = self.client.post(
            path, data=body, headers=headers, name=name, allow_redirects=False
        )
        if response.status_code in (301, 302, 303):
            return response.headers.get("Location") or ""
        return None


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False,
        domain="127.0.0.1", domain_specified=False, domain_initial_dot=False, path="/",
        path_specified=True, secure=False, expires=None, discard=True, comment=None,
        comment_url=None, rest={}, rfc2109=False,
    )  # fmt: skip
