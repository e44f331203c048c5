"""Accounts: sign-up by email confirmation, so that the answer to a sign-up never tells whether
a username or an email is already registered; the address's owner learns it by email. The
same holds for a change of email address. Also the profile, and lifting a lockout after a
password reset."""

import logging
from collections.abc import Callable
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from kombu.exceptions import OperationalError as BrokerUnavailable

from . import tasks

logger = logging.getLogger(__name__)

# confirm_link(uidb64, token) -> the absolute URL of the confirmation page.
LinkBuilder = Callable[[str, str], str]
# email_link(token) -> the absolute URL of the email change's confirmation page.
EmailLinkBuilder = Callable[[str], str]
EMAIL_CHANGE_SALT = "shop.email-change"
# Seconds an email change link works.
EMAIL_CHANGE_MAX_AGE = 3 * 24 * 3600
RESET_SUBJECT = "emails/password_reset_subject.txt"
RESET_BODY = "emails/password_reset.txt"
RESET_HTML = "emails/password_reset.html"


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


def account_lockout_clear(user: AbstractBaseUser) -> int:
    """Forget the failed sign-ins typed with this account's username or email (django-axes).

    Called when a password reset succeeds: the shopper proved they hold the address, so their
    own mistakes stop counting against the client address they sign in from. Failures typed
    with other names stay: resetting one's own password must not let anyone guess others'.
    """
    names = [name for name in (user.get_username(), user.email) if name]
    if not names:
        return 0
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    return AccessAttempt.objects.filter(query).delete()[0]


def account_profile_update(user_id: int, *, first_name: str, last_name: str) -> None:
    user = get_user_model()._default_manager.get(pk=user_id)
    user.first_name, user.last_name = first_name, last_name
    user.save(update_fields=["first_name", "last_name"])  # post_save refreshes the shelf copy


def account_email_change_request(
    user: AbstractBaseUser, new_email: str, *, email_link: EmailLinkBuilder
) -> None:
    """Mail the new address a link that makes the change; nothing changes until it is opened.

    An address that already belongs to another account is told so instead: the page that
    asked says the same either way.
    """
    users = get_user_model()._default_manager
    if users.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        _mail(
            new_email,
            "This address already has an account",
            "Someone, perhaps you, asked to move another account to this address. It already "
            "has an account of its own, so nothing was changed.\n\nIf it was not you, ignore "
            "this.",
        )
        return
    token = signing.dumps(
        {"user": user.pk, "old": user.email, "new": new_email}, salt=EMAIL_CHANGE_SALT
    )
    _mail(
        new_email,
        "Confirm your new email address",
        f"Open this link to use this address for your account {user.get_username()}:\n"
        f"{email_link(token)}\n\nIf you did not ask for this, ignore it.",
    )


def account_email_change_check(token: str) -> dict | None:
    """What a still valid email change link asks for ({"user", "old", "new"}), else None."""
    try:
        change = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(change, dict) or set(change) != {"user", "old", "new"}:
        return None
    # The link works once: once the address changed, it names an old one.
    current = get_user_model()._default_manager.filter(pk=change["user"], is_active=True)
    if not current.filter(email=change["old"]).exists():
        return None
    return change


def account_email_change_confirm(token: str) -> str | None:
    """Make the change a valid link asks for; return the new address, or None."""
    with transaction.atomic():
        change = account_email_change_check(token)
        if change is None:
            return None
        users = get_user_model()._default_manager
        if users.filter(email__iexact=change["new"]).exclude(pk=change["user"]).exists():
            return None  # taken meanwhile by a sign-up
        user = users.select_for_update().get(pk=change["user"])
        if user.email != change["old"]:
            return None  # a second click of the same link, which waited for the first
        user.email = change["new"]
        user.save(update_fields=["email"])
    if change["old"]:
        _mail(
            change["old"],
            "Your email address was changed",
            f"Your account {user.get_username()} now uses {change['new']}. If you did not do "
            "this, please contact us at once.",
        )
    return change["new"]


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


def password_reset_request(user_id: int, domain: str, use_https: bool) -> None:
    """Have the Celery worker email a reset link, as order confirmations are sent: a slow or
    unreachable SMTP server then holds up a worker (which retries), not the shopper's request.
    The task takes the user's id and makes the link itself, so no reset token waits in the
    broker. If the broker cannot take it, the mail is sent from here: slower, never lost."""
    try:
        tasks.send_password_reset.delay(user_id, domain, use_https)
    except BrokerUnavailable:
        logger.warning("broker unavailable: password reset mailed from the request")
        password_reset_send(user_id, domain, use_https)


def password_reset_send(user_id: int, domain: str, use_https: bool) -> bool:
    """Email a reset link to an active account with a usable password (those Django's reset
    form writes to); return whether a mail was sent. The link's token is made now, so it is
    valid for PASSWORD_RESET_TIMEOUT from the sending."""
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    email = user and getattr(user, user.get_email_field_name())
    if not email or not user.has_usable_password():
        return False
    context = {
        "email": email, "domain": domain, "site_name": domain,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)), "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http", "shop_name": settings.SITE_NAME,
    }  # fmt: skip
    # Django's own rendering and sending of the reset mail (text and HTML parts).
    PasswordResetForm().send_mail(
        RESET_SUBJECT, RESET_BODY, context, None, email, html_email_template_name=RESET_HTML
    )
    return True


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
