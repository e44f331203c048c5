"""How apps extend the toolkit: slot fillers, warm plans, and the tasks' former names."""

import pytest
from celery import current_app
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from shelf import pages, tasks, warming
from shelf.models import PendingBump


@pytest.fixture
def registries(monkeypatch):
    """Registrations made by a test are gone after it (the apps' own stay)."""
    monkeypatch.setattr(pages, "_entry_fillers", dict(pages._entry_fillers))
    monkeypatch.setattr(pages, "_visitor_fillers", dict(pages._visitor_fillers))
    monkeypatch.setattr(pages, "_patterns", {})
    monkeypatch.setattr(warming, "_builders", {})


def test_entry_slots_are_filled_by_their_registered_filler(registries):
    pages.register_entry_slot("price", lambda cents: "?" if cents is None else f"${cents / 100}")
    html = "<p><!--price:1--></p><p><!--price:2--></p><!--unknown:1-->"
    response = pages.respond(HttpRequest(), html, {"price": {1: 250}})
    assert response.content.decode() == "<p>$2.5</p><p>?</p><!--unknown:1-->"


def test_visitor_slots_are_filled_per_response_and_unknown_ones_left_alone(registries):
    pages.register_visitor_slot("greeting", lambda request: f"Hi {request.GET['name']}")
    html = "<p><!--shelf:greeting--></p><!--shelf:greeting--><!--shelf:nobody-->"
    middleware = pages.VisitorSlotsMiddleware(lambda request: HttpResponse(html))
    body = middleware(RequestFactory().get("/", {"name": "Ada"})).content.decode()
    assert body == "<p>Hi Ada</p>Hi Ada<!--shelf:nobody-->"
    assert pages.strip_visitor_slots(html) == "<p></p><!--shelf:nobody-->"


def test_warm_plan_joins_the_registered_plans_in_order(registries):
    loaded = []
    warming.register_warm_plan(
        "first",
        lambda products, **_: [
            warming.Warm("a", lambda: loaded.append(("a", products))),
            warming.Warm("a-tail", lambda: loaded.append("a-tail"), tail=True),
        ],
    )
    warming.register_warm_plan(
        "second", lambda queries, **_: [warming.Warm("b", lambda: loaded.append("b"))]
    )
    plan = warming.warm_plan(products=3, queries=None)
    assert [e.label for e in plan] == ["a", "b", "a-tail"]  # every head before the tails
    for entry in plan:
        entry.load()
    assert loaded == [("a", 3), "b", "a-tail"]


@pytest.mark.django_db
def test_tasks_still_run_under_their_names_from_the_shop_app():
    PendingBump.objects.create(tags=["thing:1"])
    assert tasks.shelf_outbox_drain.name == "shelf.tasks.shelf_outbox_drain"
    old = current_app.tasks["shop.tasks.shelf_outbox_drain"]
    assert old.apply().get() == 1  # the queued message's task runs the new code
    assert not PendingBump.objects.exists()
    for old_name, task in [
        ("shop.tasks.shelf_warm", tasks.shelf_warm),
    ]:
        assert current_app.tasks[old_name].run is task.run
