from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from shop import health, ops

urlpatterns = [
    path("admin/cache/", ops.dashboard, name="cache-dashboard"),
    # Orders were part of the shop app until the apps split: old admin links still work.
    re_path(
        r"^admin/shop/(?P<rest>(?:order|orderline|payment)/.*)$",
        RedirectView.as_view(url="/admin/orders/%(rest)s", permanent=True, query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("livez", health.livez, name="livez"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("", include("catalog.urls")),
    path("", include("search.urls")),
    path("", include("cart.urls")),
    path("", include("shop.accounts")),
    path("", include("orders.urls")),
    path("", include("shop.urls")),
]

handler404 = "shop.views.not_found"
# The shop's 503 page when PostgreSQL is unreachable (anywhere in the request), else a 500.
handler500 = "shop.views.server_error"
