"""Password reset, signing in by email, the lockout a reset lifts, the account page, the profile
and email change, and the messages after signing in and out (also on shared shelf pages)."""

import json
import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django_redis import get_redis_connection
from kombu.exceptions import OperationalError as BrokerUnavailable

from catalog.tests.factories import ProductFactory
from shelf.core import entry_envelope
from shop import security, tasks
from shop.cache import user_get
from shop.middleware import PRIVATE

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"
NEW_PASSWORD = "brand-new-pass-5678"
RESET = "/accounts/password/reset/"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user(
        "alice", "alice@example.com", PASSWORD, first_name="Alice"
    )


def _login(client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def _reset_link(message) -> str:
    return re.search(r"http://testserver(/accounts/password/reset/\S+/\S+/)", message.body)[1]


def _set_new_password(client, link: str, password: str = NEW_PASSWORD):
    """Open the emailed link (Django swaps the token for a session-held one), then submit."""
    opened = client.get(link)
    assert opened.status_code == 302, opened.status_code
    form_url = opened["Location"]
    assert client.get(form_url).status_code == 200
    return client.post(form_url, {"new_password1": password, "new_password2": password})


# --- Password reset -----------------------------------------------------------------------------


def test_reset_page_is_linked_from_the_login_page_and_is_private(client):
    assert RESET in client.get("/accounts/login/").content.decode()
    response = client.get(RESET)
    assert response.status_code == 200 and 'name="email"' in response.content.decode()
    assert response["Cache-Control"] == PRIVATE


def test_reset_answers_the_same_for_an_account_and_an_unknown_address(alice, mailoutbox):
    answers = []
    for email in ("ALICE@example.com", "nobody@example.com"):
        response = Client().post(RESET, {"email": email})
        answers.append((response.status_code, response["Location"], sorted(response.cookies)))
        followed = Client().get(response["Location"])
        answers.append((followed.status_code, followed.content.decode()))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    assert answers[0][:2] == (302, "/accounts/password/reset/sent/")
    (message,) = mailoutbox  # only the account's owner learns anything
    assert message.to == ["alice@example.com"] and message.subject == "Reset your Shelf password"
    html, kind = message.alternatives[0]
    assert kind == "text/html" and _reset_link(message) in html


def test_the_emailed_link_sets_a_new_password_that_signs_in(client, alice, mailoutbox):
    client.post(RESET, {"email": "alice@example.com"})
    link = _reset_link(mailoutbox[0])
    response = _set_new_password(client, link)
    assert (
        response.status_code == 302 and response["Location"] == "/accounts/password/reset/complete/"
    )
    assert "Sign in" in client.get(response["Location"]).content.decode()
    assert _login(Client(), "alice", PASSWORD).status_code == 200, "the old password still works"
    assert _login(Client(), "alice", NEW_PASSWORD).status_code == 302
    # The link works once.
    again = Client().get(link, follow=True)
    assert "This link does not work any more" in again.content.decode()


def test_the_reset_mail_is_sent_by_the_worker_and_no_token_waits_in_the_broker(
    client, alice, mailoutbox, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.send_password_reset, "delay", lambda *args: queued.append(args))
    assert client.post(RESET, {"email": "alice@example.com"}).status_code == 302
    assert mailoutbox == [], "nothing is mailed inside the request"
    assert queued == [(alice.pk, "testserver", False)]
    assert tasks.send_password_reset(*queued[0]) is True  # what the worker runs
    assert _set_new_password(client, _reset_link(mailoutbox[0])).status_code == 302


def test_with_the_broker_down_the_reset_mail_is_sent_from_the_request(
    client, alice, mailoutbox, monkeypatch
):
    def refused(*args):
        raise BrokerUnavailable("Error 111 connecting to the broker")

    monkeypatch.setattr(tasks.send_password_reset, "delay", refused)
    assert client.post(RESET, {"email": "alice@example.com"}).status_code == 302
    (message,) = mailoutbox
    assert message.to == ["alice@example.com"] and _reset_link(message)


def test_the_worker_sends_nothing_to_an_account_deactivated_meanwhile(alice, mailoutbox):
    alice.is_active = False
    alice.save()
    assert tasks.send_password_reset(alice.pk, "testserver", False) is False
    assert mailoutbox == []


def test_reset_signs_out_the_other_sessions_and_the_shelf_copy_follows(alice, mailoutbox):
    other = Client()
    assert _login(other, "alice").status_code == 302
    assert "Hi, Alice" in other.get("/cart/").content.decode()
    before = user_get(alice.pk).session_hash
    Client().post(RESET, {"email": "alice@example.com"})
    _set_new_password(Client(), _reset_link(mailoutbox[0]))
    assert user_get(alice.pk).session_hash != before
    assert "Hi, Alice" not in other.get("/cart/").content.decode()


def test_an_inactive_account_gets_no_reset_mail_and_the_same_answer(alice, mailoutbox):
    alice.is_active = False
    alice.save()
    response = Client().post(RESET, {"email": "alice@example.com"})
    assert response.status_code == 302 and mailoutbox == []


@pytest.mark.parametrize(
    "email", ["", "not-an-email", "x" * 300 + "@example.com", "a@b\r\nBcc: c@d.example", "\x00"]
)
def test_a_bad_reset_address_is_a_form_error(client, email, mailoutbox):
    response = client.post(RESET, {"email": email})
    assert response.status_code == 200 and 'class="error-summary"' in response.content.decode()
    assert mailoutbox == []


def test_a_forged_reset_link_is_a_page_saying_so_not_an_error(client, alice):
    for link in ("MA/not-a-token/", "%FF%FF/x-y/", "MQ/set-password/"):
        link = RESET + link
        response = client.get(link)
        assert response.status_code == 200, link
        assert "This link does not work any more" in response.content.decode()


def test_reset_requests_are_throttled_per_client_and_per_address(alice, settings, mailoutbox):
    settings.PASSWORD_RESET_RATE_LIMIT = "3/h"
    client = Client()
    statuses = [client.post(RESET, {"email": f"n{i}@example.com"}).status_code for i in range(4)]
    assert statuses == [302, 302, 302, 429]
    security._counts.discard()  # another client address, same inbox
    answers = [
        Client(REMOTE_ADDR=f"10.0.0.{i}").post(RESET, {"email": "Alice@Example.com "}).status_code
        for i in range(4)
    ]
    assert answers == [302, 302, 302, 429]
    assert len(mailoutbox) == 3


# --- Lockout, then reset ------------------------------------------------------------------------


def test_a_locked_out_shopper_resets_the_password_and_signs_in_again(alice, mailoutbox, settings):
    client = Client()
    typed = ("alice", "ALICE@example.com", "alice", "alice@example.com", "alice")
    statuses = [_login(client, name, "wrong-password").status_code for name in typed]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks the address
    locked = _login(client, "alice")
    assert locked.status_code == 429 and RESET in locked.content.decode()
    client.post(RESET, {"email": "alice@example.com"})
    assert _set_new_password(client, _reset_link(mailoutbox[0])).status_code == 302
    assert not AccessAttempt.objects.exists()
    response = _login(client, "alice", NEW_PASSWORD)
    assert response.status_code == 302
    assert "Hi, Alice" in client.get("/cart/").content.decode()


def test_a_reset_does_not_forgive_failures_typed_for_other_accounts(alice, mailoutbox):
    client = Client()
    for name in ("bob", "carol", "dave", "erin", "frank"):
        _login(client, name, "guess")
    client.post(RESET, {"email": "alice@example.com"})
    _set_new_password(client, _reset_link(mailoutbox[0]))
    assert AccessAttempt.objects.count() == 5
    assert _login(client, "alice", NEW_PASSWORD).status_code == 429, "still locked"


# --- Signing in by username or email ------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["alice", "alice@example.com", "ALICE@Example.COM", " alice@example.com "]
)
def test_login_by_username_or_email_in_any_case(alice, typed):
    client = Client()
    response = _login(client, typed)
    assert response.status_code == 302, typed
    assert "Hi, Alice" in client.get("/").content.decode()


def test_login_by_email_refuses_a_wrong_password_and_axes_counts_it(alice):
    response = _login(Client(), "alice@example.com", "nope")
    assert response.status_code == 200
    assert "Please enter a correct username or email and password" in response.content.decode()
    assert AccessAttempt.objects.get().username == "alice@example.com"


def test_two_accounts_sharing_an_address_sign_in_by_their_own_passwords(alice):
    users = get_user_model().objects
    twin = users.create_user("alice2", "Alice@example.com", "twin-pass-7890", first_name="Twin")
    client = Client()
    assert _login(client, "alice@example.com", "twin-pass-7890").status_code == 302
    assert client.session["_auth_user_id"] == str(twin.pk)
    other = Client()
    assert _login(other, "alice@example.com").status_code == 302
    assert other.session["_auth_user_id"] == str(alice.pk)


def test_a_username_that_looks_like_someone_else_s_email_signs_in_its_own_account(alice):
    odd = get_user_model().objects.create_user(
        "alice@example.com", "odd@example.com", "odd-pass-1234"
    )
    client = Client()
    assert _login(client, "alice@example.com", "odd-pass-1234").status_code == 302
    assert client.session["_auth_user_id"] == str(odd.pk)


def test_an_inactive_account_cannot_sign_in_by_email(alice):
    alice.is_active = False
    alice.save()
    assert _login(Client(), "alice@example.com").status_code == 200


def test_an_email_longer_than_a_username_reaches_the_backend(alice):
    long_email = "a" * 200 + "@example.com"
    get_user_model().objects.create_user("longmail", long_email, PASSWORD)
    assert _login(Client(), long_email).status_code == 302


# --- Messages, shown once and never shelved -----------------------------------------------------


def test_login_message_shows_once_on_a_shared_page_and_stays_out_of_its_entry(alice):
    ProductFactory()
    Client().get("/")  # the home page is on the shelf before the shopper arrives
    client = Client()
    response = _login(client, "alice")
    assert response["Location"] == "/"
    first = client.get("/").content.decode()
    assert "Welcome back, Alice." in first
    assert "Welcome back" not in client.get("/").content.decode(), "shown once"
    assert "Welcome back" not in Client().get("/").content.decode()
    cache = get_redis_connection("default")
    home = [k for k in cache.scan_iter(match="catalog.home*", count=500)]
    assert home, "the home page was shelved"
    for key in home:
        value = json.dumps(entry_envelope(cache.get(key)), ensure_ascii=False)
        assert "<!--shelf:messages-->" in value, "the page itself, decompressed, its slot empty"
        assert "Welcome back" not in value and "alice" not in value.lower()


def test_logout_says_so_once(alice):
    client = Client()
    _login(client, "alice")
    client.get("/")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "You are signed out." in page and "Hi, Alice" not in page
    assert "You are signed out." not in client.get("/").content.decode()


def test_confirming_a_sign_up_welcomes_the_new_shopper(client, mailoutbox):
    client.post("/accounts/signup/", {"username": "dora", "email": "dora@example.com",
                                      "password1": PASSWORD, "password2": PASSWORD})  # fmt: skip
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+)", mailoutbox[0].body)[1]
    response = client.post(link, follow=True)
    assert "Welcome, dora! Your account is ready." in response.content.decode()


# --- The account page, profile and email --------------------------------------------------------


def test_account_page_needs_a_sign_in_and_shows_the_profile(client, alice):
    response = client.get("/accounts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    response = client.get("/accounts/")
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == PRIVATE
    assert "alice@example.com" in body and 'href="/accounts/password/"' in body
    assert (
        'href="/accounts/addresses/"' in body
        and 'href="/accounts/"' in client.get("/").content.decode()
    )


def test_profile_change_shows_in_the_header_at_once(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/profile/", {"first_name": "Alicia", "last_name": "Liddell"})
    assert response.status_code == 302
    page = client.get("/accounts/").content.decode()
    assert "Your name is saved." in page and "Alicia Liddell" in page and "Hi, Alicia" in page
    assert client.post("/accounts/profile/", {"first_name": "x" * 151}).status_code == 200
    assert get_user_model().objects.get(pk=alice.pk).first_name == "Alicia"


def test_email_change_waits_for_the_new_address_to_confirm(client, alice, mailoutbox):
    client.force_login(alice)
    wrong = client.post("/accounts/email/", {"email": "new@example.com", "password": "nope"})
    assert wrong.status_code == 200 and "That is not your password." in wrong.content.decode()
    assert mailoutbox == []
    response = client.post("/accounts/email/", {"email": "New@Example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert get_user_model().objects.get(pk=alice.pk).email == "alice@example.com"
    (message,) = mailoutbox
    assert message.to == ["new@example.com"]
    link = re.search(r"http://testserver(/accounts/email/confirm/\S+/)", message.body)[1]
    assert Client().get(link).status_code == 200  # a button: a mail scanner changes nothing
    assert get_user_model().objects.get(pk=alice.pk).email == "alice@example.com"
    assert Client().post(link).status_code == 302
    assert get_user_model().objects.get(pk=alice.pk).email == "new@example.com"
    assert mailoutbox[-1].to == ["alice@example.com"]  # the old address is told
    assert Client().post(link).status_code == 404, "the link works once"
    assert "new@example.com" in client.get("/accounts/").content.decode()
    assert _login(Client(), "new@example.com").status_code == 302


def test_email_change_to_a_taken_address_answers_the_same_and_tells_that_address(
    client, alice, mailoutbox
):
    get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    client.force_login(alice)
    free = client.post("/accounts/email/", {"email": "free@example.com", "password": PASSWORD})
    taken = client.post("/accounts/email/", {"email": "BOB@example.com", "password": PASSWORD})
    assert (free.status_code, free["Location"]) == (taken.status_code, taken["Location"])
    assert mailoutbox[-1].to == ["bob@example.com"]
    assert "/accounts/email/confirm/" not in mailoutbox[-1].body
    assert get_user_model().objects.get(pk=alice.pk).email == "alice@example.com"


def test_a_forged_email_change_link_is_a_404(client, alice):
    for token in ("not-a-token", "eyJ1c2VyIjoxfQ:1abc:xyz", "x" * 3000):
        assert client.get(f"/accounts/email/confirm/{token}/").status_code == 404
        assert client.post(f"/accounts/email/confirm/{token}/").status_code == 404


@pytest.mark.parametrize(
    "first, second",
    [("short", "short"), (NEW_PASSWORD, "other-pass-4321"), ("x" * 10_240, "y" * 10_240),
     ("12345678901", "12345678901"), ("", ""), ("\x00" * 20, "\x00" * 20)],
)  # fmt: skip
def test_a_bad_new_password_is_a_form_error_and_the_old_one_stays(alice, mailoutbox, first, second):
    client = Client()
    client.post(RESET, {"email": "alice@example.com"})
    form_url = client.get(_reset_link(mailoutbox[0]))["Location"]
    response = client.post(form_url, {"new_password1": first, "new_password2": second})
    assert response.status_code == 200 and 'class="error-summary"' in response.content.decode()
    assert _login(Client(), "alice").status_code == 302
