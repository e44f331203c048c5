"""Create or update the demo superuser that `make run` prints, from settings.SHELF_DEMO_ADMIN.

The setting exists only in config/settings/local.py: its password is published in the code, so
with any other settings (production, tests) the command refuses instead of creating a superuser.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create or update the demo superuser from settings.SHELF_DEMO_ADMIN "
        "(config.settings.local only) and print its username and password."
    )

    def handle(self, *args, **options):
        demo = getattr(settings, "SHELF_DEMO_ADMIN", None)
        if not demo:
            raise CommandError(
                "settings.SHELF_DEMO_ADMIN is not set, so there is no demo admin here: it is "
                "defined only in config.settings.local (DJANGO_SETTINGS_MODULE is "
                f"{settings.SETTINGS_MODULE}). Refusing to create a superuser with a published "
                "password; use `manage.py createsuperuser` instead."
            )
        try:
            username, password = demo["username"], demo["password"]
        except (KeyError, TypeError):
            raise CommandError(
                "settings.SHELF_DEMO_ADMIN must be a dict with 'username' and 'password' "
                "(and optionally 'email')."
            ) from None
        email = demo.get("email", "")

        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: username}, defaults={"email": email}
        )
        user.email = email
        user.is_active = True
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()

        verb = "created" if created else "updated"
        self.stdout.write(
            f"Demo admin {verb}: username {username!r}, password {password!r} (log in at /admin/)"
        )
