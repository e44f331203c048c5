"""Checkout (details, review, place) and order pages. Per-visitor, so rendered per request and
never shelved; the visitor's header is filled by VisitorSlotsMiddleware as on every page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from redis.exceptions import RedisError

from cart.selectors import cart_get
from cart.services import cart_owner
from catalog.selectors import product_by_slug
from catalog.services import ReviewError, review_submit
from shelf.pages import page_number

from . import selectors, services
from .forms import AddressForm, CheckoutForm, PlaceOrderForm, ReviewForm

SESSION_DETAILS = "checkout_details"
SESSION_SEEN = "checkout_seen"
SESSION_TOKEN = "checkout_token"
# Numbers of the orders placed in this session: the only ones a guest may open.
SESSION_ORDERS = "orders"
SESSION_ORDERS_KEPT = 20
UNAVAILABLE = "Checkout is unavailable for a moment. Please try again in a minute."


def _owner(request: HttpRequest) -> str | None:
    return cart_owner(request.user, request.session)


def _placed(request: HttpRequest) -> list[str]:
    return request.session.get(SESSION_ORDERS, [])


def _empty_cart(request: HttpRequest) -> HttpResponseRedirect:
    messages.info(request, "Your cart is empty.")
    return redirect("cart:detail")


@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """Shipping details; the cart shown here is what the review compares prices with."""
    cart = cart_get(_owner(request))
    if not cart.lines:
        return _empty_cart(request)
    if not cart.orderable:
        # Before the shopper fills in the form for an order that cannot be placed as it is.
        messages.error(request, "Some products in your cart are sold out or short of stock.")
        return redirect("cart:detail")
    signed_in = request.user.is_authenticated
    if request.method == "POST":
        form = CheckoutForm(request.POST, can_save=signed_in)
        if form.is_valid():
            details = dict(form.cleaned_data)
            if details.pop("save_address", False):
                services.address_save_from_checkout(request.user.pk, details)
            request.session[SESSION_DETAILS] = details
            return redirect("orders:checkout-review")
    else:
        request.session[SESSION_SEEN] = selectors.prices_seen(cart)
        form = CheckoutForm(
            initial=request.session.get(SESSION_DETAILS) or _checkout_initial(request),
            can_save=signed_in,
        )
    return render(request, "orders/checkout.html", {"form": form, "cart": cart})


def _checkout_initial(request: HttpRequest) -> dict[str, str]:
    """A signed-in shopper's email and default address; nothing for a guest."""
    if not request.user.is_authenticated:
        return {}
    return {"email": request.user.email, **(selectors.address_default(request.user.pk) or {})}


def _review(request: HttpRequest, form: PlaceOrderForm | None = None) -> HttpResponse:
    details = request.session.get(SESSION_DETAILS)
    if details is None:
        return redirect("orders:checkout")
    try:
        priced = selectors.checkout_review(_owner(request))
    except RedisError:
        messages.error(request, UNAVAILABLE)
        return redirect("cart:detail")
    if not priced.lines:
        return _empty_cart(request)
    if SESSION_TOKEN not in request.session:
        request.session[SESSION_TOKEN] = services.checkout_token_new()
    if form is None:
        form = PlaceOrderForm(
            initial={"token": request.session[SESSION_TOKEN], "seen_total": priced.total}
        )
    context = {
        "details": details,
        "priced": priced,
        "changes": selectors.price_changes(request.session.get(SESSION_SEEN, {}), priced),
        "form": form,
    }
    return render(request, "orders/review.html", context)


@require_safe
def checkout_review(request: HttpRequest) -> HttpResponse:
    """Lines at PostgreSQL's prices, changes since the cart was seen, and "Place order"."""
    return _review(request)


@require_POST
def checkout_place(request: HttpRequest) -> HttpResponse:
    form = PlaceOrderForm(request.POST)
    details = request.session.get(SESSION_DETAILS)
    if details is None:
        return redirect("orders:checkout")
    if not form.is_valid():
        return _review(request, form)
    owner = _owner(request)
    if owner is None:
        return _empty_cart(request)
    token = form.cleaned_data["token"]
    if token != request.session.get(SESSION_TOKEN):
        # A second submit after the first one finished, or a page from an older checkout.
        done = selectors.order_by_token(token, request.user, _placed(request))
        if done is not None:
            return redirect(done)
        messages.warning(request, "That page was out of date. Please check your order again.")
        return redirect("orders:checkout-review")
    try:
        order = services.order_place(
            owner=owner,
            user_id=request.user.pk if request.user.is_authenticated else None,
            details=details,
            token=token,
            card_number=form.cleaned_data["card_number"],
            expected_total=form.cleaned_data["seen_total"],
        )
    except (services.EmptyCart, services.ItemsUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect("cart:detail")
    except services.CheckoutError as exc:
        if isinstance(exc, services.PaymentDeclined | services.CheckoutClosed):
            # This token's order ended unplaced: the review hands out a new one for the retry.
            request.session.pop(SESSION_TOKEN, None)
        messages.error(request, str(exc))
        return redirect("orders:checkout-review")
    except RedisError:
        messages.error(request, UNAVAILABLE)
        return redirect("orders:checkout-review")
    request.session[SESSION_ORDERS] = [order.number, *_placed(request)][:SESSION_ORDERS_KEPT]
    for key in (SESSION_TOKEN, SESSION_SEEN):
        request.session.pop(key, None)
    messages.success(request, f"Thank you! Your order {order.number} is placed.")
    return redirect(order)


@require_safe
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get(number, request.user, _placed(request))
    if order is None:
        # 404, not 403: whether someone else's order has this number is nobody's business.
        raise Http404("No such order.")
    return render(request, "orders/order_detail.html", {"order": order})


@require_safe
@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.orders_of_user(request.user.pk), 20)
    number = page_number(request.GET.get("page"))
    if number > paginator.num_pages:
        raise Http404("No such page.")
    page = paginator.page(number)
    return render(request, "orders/order_list.html", {"page": page})


NOT_A_BUYER = "Only shoppers who bought this product can review it."


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def review_write(request: HttpRequest, slug: str) -> HttpResponse:
    """A buyer's review of a product they ordered; it shows once staff approve it."""
    product = product_by_slug(slug)
    if product is None:
        raise Http404("No such product.")
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not selectors.has_bought(request.user.pk, product["id"]):
            form.add_error(None, NOT_A_BUYER)
        else:
            try:
                review_submit(
                    product_id=product["id"],
                    user_id=request.user.pk,
                    author=request.user.get_short_name() or request.user.get_username(),
                    **form.cleaned_data,
                )
            except ReviewError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, "Thank you! Your review will appear once we have checked it."
                )
                return redirect("catalog:product", slug=slug)
    return render(request, "orders/write_review.html", {"form": form, "product": product})


# --- Address book ------------------------------------------------------------------------------


def _address_or_404(request: HttpRequest, address_id: int):
    address = selectors.address_get(request.user.pk, address_id)
    if address is None:
        # 404, not 403: whether someone else has an address with this id is nobody's business.
        raise Http404("No such address.")
    return address


@require_safe
@login_required
def address_list(request: HttpRequest) -> HttpResponse:
    addresses = selectors.addresses_of_user(request.user.pk)
    return render(request, "orders/address_list.html", {"addresses": addresses})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def address_add(request: HttpRequest) -> HttpResponse:
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.address_create(request.user.pk, form.cleaned_data)
        messages.success(request, "Address added.")
        return redirect("orders:addresses")
    return render(request, "orders/address_form.html", {"form": form, "adding": True})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    address = _address_or_404(request, address_id)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        services.address_update(address, form.cleaned_data)
        messages.success(request, "Address saved.")
        return redirect("orders:addresses")
    return render(request, "orders/address_form.html", {"form": form, "adding": False})


@require_POST
@login_required
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    services.address_delete(_address_or_404(request, address_id))
    messages.success(request, "Address deleted.")
    return redirect("orders:addresses")


@require_POST
@login_required
def address_make_default(request: HttpRequest, address_id: int) -> HttpResponse:
    services.address_set_default(_address_or_404(request, address_id))
    messages.success(request, "Default address changed. Checkout now starts with it.")
    return redirect("orders:addresses")
