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


def _change(request: HttpRequest, form, change, done: str) -> str | None:
    """Apply a valid change, with a message for the next page; else the refusal, for the
    shopper (nothing is changed)."""
    if not form.is_valid():
        return form.problem()
    owner = services.cart_owner(request.user, request.session, create=True)
    try:
        change(owner, **form.cleaned_data)
    except services.CartError as exc:
        return str(exc)
    except RedisError:
        messages.error(request, UNAVAILABLE)
    else:
        messages.success(request, done)
    return None


def _cart(request: HttpRequest) -> selectors.CartView:
    return selectors.cart_get(services.cart_owner(request.user, request.session))


@require_safe
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "cart/cart.html", {"cart": _cart(request)})


@require_safe
@never_cache
def cart_badge(request: HttpRequest) -> HttpResponse:
    """The header's item count and the messages, for htmx to swap in after a change."""
    return render(request, "cart/badge.html")


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = LineForm(request.POST)
    refused = _change(request, form, services.cart_item_add, "Added to your cart.")
    if refused:
        messages.error(request, refused)
    return _back(request)


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    """A line's new quantity. A refused one is shown beside its line, on the cart page
    answered at once (400, with and without htmx), not as a message after a redirect: the
    shopper sees which line, what they typed and what the cart still holds."""
    form = LineForm(request.POST)
    refused = _change(request, form, services.cart_item_update, "Cart updated.")
    if refused is None:
        return _back(request)
    cart, product = _cart(request), form.cleaned_data.get("product")
    if any(line.product_id == product and line.product for line in cart.lines):
        entered = request.POST.get("quantity", "")[:8]
        refused = {"product": product, "message": refused, "entered": entered}
    else:
        # Not a line of this cart (a stale or forged form): said at the top instead.
        messages.error(request, refused)
        refused = None
    return render(request, "cart/cart.html", {"cart": cart, "refused": refused}, status=400)


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    refused = _change(request, RemoveForm(request.POST), services.cart_item_remove, "Removed.")
    if refused:
        messages.error(request, refused)
    return _back(request)
