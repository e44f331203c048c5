"""Sign up, log in, log out and change password: Django's auth views with the shop's templates."""

import functools

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import get_script_prefix, path, reverse, reverse_lazy
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from shelf.pages import csrf_input

from . import services
from .forms import SignupForm


def nav_slot(request: HttpRequest) -> str:
    """The header's account links for this visitor (the `nav` visitor slot of every page)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        orders, logout = _nav_urls(get_script_prefix())
        return format_html(
            '<a href="{}">Orders</a> <span class="nav-user">Hi, {}</span> '
            '<form method="post" action="{}" class="inline">{}'
            '<button type="submit" class="link">Log out</button></form>',
            orders,
            user.get_short_name() or user.get_username(),
            logout,
            csrf_input(request),
        )
    return _anonymous_nav(get_script_prefix())


@functools.cache
def _nav_urls(script_prefix: str) -> tuple[str, str]:
    """The signed-in header's links, the same on every page: reversed once per process."""
    return reverse("orders:orders"), reverse("logout")


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
        return HttpResponseRedirect(reverse("catalog:home"))
    return render(request, "registration/signup_confirm.html", {"username": user.get_username()})


urlpatterns = [
    path("accounts/signup/", signup, name="signup"),
    path("accounts/signup/sent/", signup_sent, name="signup_sent"),
    path("accounts/signup/confirm/<uidb64>/<token>/", signup_confirm, name="signup_confirm"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done")),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
