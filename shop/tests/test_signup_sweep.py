"""Sign-ups never confirmed are deleted after SIGNUP_CONFIRM_DAYS, and nothing else is."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from orders.tests.factories import cart_with, order_for
from shop import services
from shop.tasks import unconfirmed_signups_sweep

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-pass-1234"


def _user(name: str, days: float, *, active: bool = False, signed_in: bool = False, **extra):
    user = get_user_model().objects.create_user(
        name, f"{name}@example.com", PASSWORD, is_active=active, **extra
    )
    joined = timezone.now() - timedelta(days=days)
    get_user_model().objects.filter(pk=user.pk).update(
        date_joined=joined, last_login=joined if signed_in else None
    )
    return user


def _left() -> set[str]:
    return set(get_user_model().objects.values_list("username", flat=True))


def test_only_old_never_confirmed_sign_ups_are_deleted(settings):
    settings.SIGNUP_CONFIRM_DAYS = 7
    _user("stale", 8)
    _user("fresh", 6)  # still inside its week
    _user("confirmed", 30, active=True, signed_in=True)
    _user("left", 30, signed_in=True)  # confirmed, later deactivated (by staff or themselves)
    _user("clerk", 30, is_staff=True)  # a staff account not activated yet
    buyer = _user("buyer", 30)  # an order placed for it (say, by staff on the phone)
    cart_with(f"u:{buyer.pk}", {ProductFactory(stock__quantity=5).pk: 1})
    order_for(f"u:{buyer.pk}", user_id=buyer.pk)
    staff = get_user_model().objects.create_user("boss", "boss@example.com", PASSWORD)
    blocked = _user("blocked", 30)
    # Deactivated by staff in the admin before it was ever used: the admin's own log says so.
    LogEntry.objects.log_actions(
        staff.pk, [blocked], CHANGE, change_message=[{"changed": {"fields": ["Active"]}}]
    )
    assert services.unconfirmed_signups_remove() == 1
    assert _left() == {"fresh", "confirmed", "left", "clerk", "buyer", "boss", "blocked"}
    assert services.unconfirmed_signups_remove() == 0


def test_the_sweep_works_through_batches_and_beat_runs_it():
    for n in range(5):
        _user(f"stale{n}", 10)
    assert services.unconfirmed_signups_remove(batch=2) == 5
    assert _left() == set()
    entry = settings.CELERY_BEAT_SCHEDULE["unconfirmed-signups-sweep"]
    assert entry["task"] == unconfirmed_signups_sweep.name
    _user("stale", 10)
    assert unconfirmed_signups_sweep.delay().get() == 1  # eager in tests


def test_signing_up_again_restarts_the_week_and_the_new_link_still_works(mailoutbox):
    _user("dora", 8)
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "dora2", "email": "dora@example.com", "password1": PASSWORD,
         "password2": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    assert services.unconfirmed_signups_remove() == 0, "deleted under a link just sent"
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+)", mailoutbox[-1].body)[1]
    assert client.post(link).status_code == 302
    assert get_user_model().objects.get(username="dora").is_active
