"""Accounts and sessions: sign up, log in, sliding expiry, the cached user, Redis trouble."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_redis import get_redis_connection

from catalog.tests.factories import ProductFactory
from shelf.tests.servers import redis_server
from shop.cache import USER, user_get

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


def _signup(client, username: str, email: str, password: str = PASSWORD):
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": password, "password2": password},
    )


def _link(message) -> str:
    return re.search(r"http://testserver(/accounts/signup/confirm/\S+)", message.body)[1]


def test_signup_confirmed_by_email_logs_the_new_shopper_in(client, mailoutbox):
    response = _signup(client, "dora", "Dora@Example.com")
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    dora = get_user_model().objects.get(username="dora")
    assert dora.email == "dora@example.com" and not dora.is_active
    assert "Hi, dora" not in client.get("/").content.decode()
    (message,) = mailoutbox
    assert message.to == ["dora@example.com"] and message.subject == "Confirm your account"
    link = _link(message)
    assert client.get(link).status_code == 200  # a button: a mail scanner's GET signs no one in
    assert not get_user_model().objects.get(username="dora").is_active
    assert client.post(link).status_code == 302
    assert "Hi, dora" in client.get("/").content.decode()
    assert Client().post(link).status_code == 404, "the link works once"


def test_signup_answers_the_same_whether_or_not_the_name_or_email_is_taken(alice, mailoutbox):
    answers = {}
    for case, (username, email) in {
        "new": ("newcomer", "newcomer@example.com"),
        "email taken": ("someone", "ALICE@example.com"),
        "name taken": ("Alice", "other@example.com"),
    }.items():
        response = _signup(Client(), username, email)
        answers[case] = (response.status_code, response["Location"], dict(response.cookies))
    assert answers["new"] == answers["email taken"] == answers["name taken"]
    subjects = {m.to[0]: m.subject for m in mailoutbox}
    assert subjects == {
        "newcomer@example.com": "Confirm your account",
        "alice@example.com": "You already have an account",
        "other@example.com": "That username is taken",
    }
    assert get_user_model().objects.filter(email__iexact="alice@example.com").count() == 1


def test_signup_form_errors_are_shown_next_to_the_fields(client):
    response = _signup(client, "bad name!", "not-an-email", "x")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in body
    assert "Enter a valid username." in body


def test_login_rotates_the_session_key_and_logout_ends_it(client, alice):
    client.get("/accounts/login/")
    before = client.cookies.get("sessionid")
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert "Hi, alice" in client.get("/").content.decode()
    client.post("/accounts/logout/")
    assert "Hi, alice" not in client.get("/").content.decode()


def test_wrong_password_is_a_form_error(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username or email and password" in response.content.decode()


def test_password_change_keeps_the_shopper_logged_in(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "another-pass-987",
         "new_password2": "another-pass-987"},
    )  # fmt: skip
    assert response.status_code == 302
    assert "Hi, alice" in client.get("/").content.decode()
    # Through the login page: django-axes needs the request that Client.login() does not pass.
    again = Client().post(
        "/accounts/login/", {"username": "alice", "password": "another-pass-987"}
    )
    assert again.status_code == 302


def test_session_expiry_slides_in_the_state_redis(client, alice, settings):
    client.force_login(alice)
    key = f":1:session:{client.cookies['sessionid'].value}"
    state = get_redis_connection("state")
    state.expire(key, 100)
    client.get("/cart/")
    assert state.ttl(key) > 3000


def test_the_user_is_read_from_the_shelf_and_refreshed_after_a_save(
    client, alice, django_assert_num_queries
):
    client.force_login(alice)
    client.get("/cart/")
    assert get_redis_connection("default").exists(USER.key(alice.pk))
    alice.first_name = "Alicia"
    alice.save()
    assert user_get(alice.pk).first_name == "Alicia"
    with django_assert_num_queries(0):
        assert user_get(alice.pk).first_name == "Alicia"


def test_a_deactivated_user_is_logged_out(client, alice):
    client.force_login(alice)
    alice.is_active = False
    alice.save()
    assert "Hi, alice" not in client.get("/").content.decode()


@pytest.mark.slow
def test_with_the_state_redis_down_nobody_is_logged_out_and_login_works(alice):
    product = ProductFactory()
    with redis_server() as server:
        from django.conf import settings

        caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
        caches["state"] = {**caches["state"], "LOCATION": server.url}
        with override_settings(CACHES=caches):
            shopper = Client()
            shopper.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
            assert "Hi, alice" in shopper.get("/").content.decode()
            server.kill()
            assert "Hi, alice" in shopper.get(f"/p/{product.slug}/").content.decode()
            assert shopper.get("/cart/").status_code == 200
            late = Client()
            response = late.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
            assert response.status_code == 302
            assert "Hi, alice" in late.get("/").content.decode()
            response = late.post("/cart/add/", {"product": product.pk, "quantity": 1}, follow=True)
            assert response.status_code == 200
            assert "cannot be changed right now" in response.content.decode()


def test_a_user_who_never_logged_in_is_rebuilt_from_the_shelf(client, alice):
    get_user_model().objects.filter(pk=alice.pk).update(last_login=None)
    client.force_login(alice)  # sets last_login; put it back to NULL as for a new account
    get_user_model().objects.filter(pk=alice.pk).update(last_login=None)
    import shelf

    shelf.bump(f"user:{alice.pk}")
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    assert user_get(alice.pk).last_login is None
