from django.contrib import admin
from django.urls import include, path

from shop import health, ops

urlpatterns = [
    path("admin/cache/", ops.dashboard, name="cache-dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("", include("catalog.urls")),
    path("", include("search.urls")),
    path("", include("cart.urls")),
    path("", include("shop.accounts")),
    path("", include("shop.urls")),
]

handler404 = "shop.views.not_found"
# The shop's 503 page when PostgreSQL is unreachable (anywhere in the request), else a 500.
handler500 = "shop.views.server_error"
