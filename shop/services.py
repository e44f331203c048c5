"""Accounts: sign-up by email confirmation, so that the answer to a sign-up never tells whether
a username or an email is already registered; the address's owner learns it by email."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

# confirm_link(uidb64, token) -> the absolute URL of the confirmation page.
LinkBuilder = Callable[[str, str], str]


def account_signup(
    *, username: str, email: str, password: str, confirm_link: LinkBuilder, login_url: str
) -> None:
    """Start a sign-up: one email to `email` whatever exists already, and nothing else seen.

    A new name and address get an inactive account and a confirmation link; an address that
    has an account is told so (with the sign-in link); a taken name is told to the address.
    """
    users = get_user_model()._default_manager
    existing = users.filter(email__iexact=email).first()
    if existing is not None and not existing.is_active and existing.last_login is None:
        # Signed up before and never confirmed (not one an admin deactivated): link again, and
        # count SIGNUP_CONFIRM_DAYS from now, so the sweep never deletes it under a live link.
        existing.date_joined = timezone.now()
        existing.save(update_fields=["date_joined"])
        _send_confirmation(existing, confirm_link)
        return
    if existing is not None:
        _mail(
            email,
            "You already have an account",
            f"Someone, perhaps you, tried to create an account with this address. You "
            f"already have one: sign in at {login_url}\n\nIf it was not you, ignore this.",
        )
        return
    if users.filter(username__iexact=username).exists():
        _username_taken(email, username)
        return
    try:
        with transaction.atomic():
            user = users.create_user(username, email, password, is_active=False)
    except IntegrityError:  # a concurrent sign-up took the name first
        _username_taken(email, username)
        return
    _send_confirmation(user, confirm_link)


def account_confirm(uidb64: str, token: str, *, activate: bool) -> AbstractBaseUser | None:
    """The account a confirmation link names, if the link is valid; activated if asked.

    The token covers last_login, so the link stops working once the account has signed in.
    """
    try:
        user_id = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError):
        return None
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    if activate and not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def _username_taken(email: str, username: str) -> None:
    _mail(
        email,
        "That username is taken",
        f"The username {username!r} belongs to another account. Please sign up again "
        "with another one.\n\nIf you did not try to sign up, ignore this.",
    )


def _send_confirmation(user: AbstractBaseUser, confirm_link: LinkBuilder) -> None:
    link = confirm_link(
        urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    )
    _mail(
        user.email,
        "Confirm your account",
        f"Open this link to confirm your account and sign in:\n{link}\n\n"
        "If you did not sign up, ignore this.",
    )


def _mail(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, None, [to])


def unconfirmed_signups_remove(*, batch: int = 500) -> int:
    """Delete the sign-ups never confirmed within SIGNUP_CONFIRM_DAYS; return how many.

    Never confirmed means inactive and never signed in (confirming signs the shopper in, so a
    confirmed account always has a last_login). Kept all the same: staff and superusers, an
    account with an order (orders outlive accounts, but not this way), and any account that
    staff touched in the admin (a LogEntry about it: created there inactive, or deactivated
    there before it ever signed in). Rows are locked (SKIP LOCKED) and checked again as they
    are deleted, in batches, so a confirmation at that moment is never undone halfway.
    """
    users = get_user_model()._default_manager
    touched_by_staff = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(get_user_model()),
        object_id=Cast(OuterRef("pk"), TextField()),
    )
    cutoff = timezone.now() - timedelta(days=settings.SIGNUP_CONFIRM_DAYS)
    unconfirmed = users.filter(
        is_active=False, last_login__isnull=True, is_staff=False, is_superuser=False,
        date_joined__lt=cutoff, orders__isnull=True,
    ).exclude(Exists(touched_by_staff))  # fmt: skip
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(
                unconfirmed.order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:batch]
            )
            if ids:
                _, deleted = unconfirmed.filter(pk__in=ids).delete()
                removed += deleted.get(users.model._meta.label, 0)
        if len(ids) < batch:
            return removed
