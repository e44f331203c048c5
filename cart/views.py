from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from redis.exceptions import RedisError

from . import selectors, services
from .forms import LineForm, RemoveForm

UNAVAILABLE = "Your cart cannot be changed right now. Please try again in a minute."


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/cart/"
    return HttpResponseRedirect(target)


def _change(request: HttpRequest, form, change, done: str) -> HttpResponseRedirect:
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"That did not work ({errors}).")
        return _back(request)
    owner = services.cart_owner(request.user, request.session, create=True)
    try:
        change(owner, **form.cleaned_data)
    except services.CartError as exc:
        messages.error(request, str(exc))
    except RedisError:
        messages.error(request, UNAVAILABLE)
    else:
        messages.success(request, done)
    return _back(request)


@require_safe
def cart_detail(request: HttpRequest) -> HttpResponse:
    owner = services.cart_owner(request.user, request.session)
    return render(request, "cart/cart.html", {"cart": selectors.cart_get(owner)})


@require_safe
@never_cache
def cart_badge(request: HttpRequest) -> HttpResponse:
    """The header's item count and the messages, for htmx to swap in after a change."""
    return render(request, "cart/badge.html")


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    return _change(request, LineForm(request.POST), services.cart_item_add, "Added to your cart.")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    return _change(request, LineForm(request.POST), services.cart_item_update, "Cart updated.")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    return _change(request, RemoveForm(request.POST), services.cart_item_remove, "Removed.")
