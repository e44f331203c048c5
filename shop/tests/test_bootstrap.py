"""ensure_demo_admin: the demo superuser that `make run` creates (config/settings/local.py).

The rest of the developer bootstrap, scripts/services.py, is tested in scripts/tests/.
"""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError


def test_ensure_demo_admin_refuses_without_the_local_setting(settings):
    if hasattr(settings, "SHELF_DEMO_ADMIN"):
        del settings.SHELF_DEMO_ADMIN
    with pytest.raises(CommandError, match="SHELF_DEMO_ADMIN is not set"):
        call_command("ensure_demo_admin")


def test_ensure_demo_admin_rejects_a_malformed_setting(settings):
    settings.SHELF_DEMO_ADMIN = {"username": "admin"}
    with pytest.raises(CommandError, match="'username' and 'password'"):
        call_command("ensure_demo_admin")


@pytest.mark.django_db
def test_ensure_demo_admin_creates_then_updates_the_superuser(settings):
    settings.SHELF_DEMO_ADMIN = {"username": "demo", "password": "first-pw", "email": "a@b.c"}
    out = io.StringIO()
    call_command("ensure_demo_admin", stdout=out)
    assert "created" in out.getvalue()
    assert "'demo'" in out.getvalue() and "'first-pw'" in out.getvalue()

    user = get_user_model().objects.get(username="demo")
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.check_password("first-pw")

    user.is_active = False
    user.save()
    settings.SHELF_DEMO_ADMIN = {"username": "demo", "password": "second-pw"}
    out = io.StringIO()
    call_command("ensure_demo_admin", stdout=out)
    assert "updated" in out.getvalue()
    user.refresh_from_db()
    assert user.is_active and user.check_password("second-pw")
    assert get_user_model().objects.filter(username="demo").count() == 1
