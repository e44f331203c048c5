"""Sign up, log in, log out, reset and change the password, and the account page: Django's
auth views with the shop's templates and messages."""

import functools

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, path, reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_safe
from django_ratelimit.decorators import ratelimit

from orders.selectors import address_default
from shelf.pages import csrf_input

from . import services
from .forms import (
    ChangePasswordForm,
    EmailChangeForm,
    LoginForm,
    NewPasswordForm,
    ProfileForm,
    ResetForm,
    SignupForm,
)


def nav_slot(request: HttpRequest) -> str:
    """The header's account links for this visitor (the `nav` visitor slot of every page)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        orders, account, logout = _nav_urls(get_script_prefix())
        return format_html(
            '<a href="{}">Orders</a> <a class="nav-user" href="{}">Hi, {}</a> '
            '<form method="post" action="{}" class="inline">{}'
            '<button type="submit" class="link">Log out</button></form>',
            orders,
            account,
            user.get_short_name() or user.get_username(),
            logout,
            csrf_input(request),
        )
    return _anonymous_nav(get_script_prefix())


@functools.cache
def _nav_urls(script_prefix: str) -> tuple[str, str, str]:
    """The signed-in header's links, the same on every page: reversed once per process."""
    return reverse("orders:orders"), reverse("account"), reverse("logout")


@functools.cache
def _anonymous_nav(script_prefix: str) -> str:
    """The same for every visitor who is not signed in: built once per process (and prefix)."""
    return format_html(
        '<a href="{}">Sign in</a> <a class="nav-signup" href="{}">Create account</a>',
        reverse("login"),
        reverse("signup"),
    )


@ratelimit(
    group="signup", key="shop.security.rate_key", rate="shop.security.signup_rate", method="POST"
)
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up; the same answer (check your email) whether or not the name or email is taken."""
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("catalog:home"))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.account_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            confirm_link=lambda uid, token: request.build_absolute_uri(
                reverse("signup_confirm", args=[uid, token])
            ),
            login_url=request.build_absolute_uri(reverse("login")),
        )
        return HttpResponseRedirect(reverse("signup_sent"))
    return render(request, "registration/signup.html", {"form": form})


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_sent.html")


@require_http_methods(["GET", "HEAD", "POST"])
def signup_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link from the email: a button (a mail scanner's GET must not sign anyone in)."""
    post = request.method == "POST"
    user = services.account_confirm(uidb64, token, activate=post)
    if user is None:
        raise Http404("This link is not valid any more.")
    if post:
        login(request, user, backend="shop.auth.CachedModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
        return HttpResponseRedirect(reverse("catalog:home"))
    return render(request, "registration/signup_confirm.html", {"username": user.get_username()})


class LoginView(auth_views.LoginView):
    form_class = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        messages.success(
            self.request, f"Welcome back, {user.get_short_name() or user.get_username()}."
        )
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        # After the session ended: the message travels in the messages cookie.
        messages.info(request, "You are signed out.")
        return response


_reset_rate = dict(rate="shop.security.password_reset_rate", method="POST")


@method_decorator(
    [
        ratelimit(group="password_reset", key="shop.security.rate_key", **_reset_rate),
        ratelimit(group="password_reset_email", key="shop.security.email_key", **_reset_rate),
    ],
    name="post",
)
class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link: the same answer whether or not the address has an account (only
    an active account's owner gets mail), throttled per client and per address asked for."""

    # The mail's templates are shop.services.RESET_*: the worker sends it (ResetForm).
    form_class = ResetForm
    success_url = reverse_lazy("password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = NewPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # The reset proves the shopper holds the address: their lockout ends with it.
        services.account_lockout_clear(form.user)
        return response


@require_safe
@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The account page: who the shopper is, and where to change it."""
    context = {"default_address": address_default(request.user.pk)}
    return render(request, "registration/account.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None, initial={"first_name": user.first_name, "last_name": user.last_name}
    )
    if request.method == "POST" and form.is_valid():
        services.account_profile_update(user.pk, **form.cleaned_data)
        messages.success(request, "Your name is saved.")
        return redirect("account")
    return render(request, "registration/profile.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def email_change(request: HttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.account_email_change_request(
            request.user,
            form.cleaned_data["email"],
            email_link=lambda token: request.build_absolute_uri(
                reverse("email_change_confirm", args=[token])
            ),
        )
        messages.info(
            request,
            f"We sent a link to {form.cleaned_data['email']}. Your address changes when you "
            "open it.",
        )
        return redirect("account")
    return render(request, "registration/email_change.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the email: a button, as for sign-up (a mail scanner's GET changes nothing)."""
    if request.method != "POST":
        change = services.account_email_change_check(token)
        if change is None:
            raise Http404("This link is not valid any more.")
        return render(request, "registration/email_change_confirm.html", {"email": change["new"]})
    email = services.account_email_change_confirm(token)
    if email is None:
        raise Http404("This link is not valid any more.")
    messages.success(request, f"Your email address is now {email}.")
    return redirect("account")


urlpatterns = [
    path("accounts/signup/", signup, name="signup"),
    path("accounts/signup/sent/", signup_sent, name="signup_sent"),
    path("accounts/signup/confirm/<uidb64>/<token>/", signup_confirm, name="signup_confirm"),
    path("accounts/", account, name="account"),
    path("accounts/profile/", profile, name="profile"),
    path("accounts/email/", email_change, name="email_change"),
    path("accounts/email/confirm/<token>/", email_change_confirm, name="email_change_confirm"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(
            form_class=ChangePasswordForm, success_url=reverse_lazy("password_change_done")
        ),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
