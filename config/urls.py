from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("catalog.urls")),
    path("", include("cart.urls")),
    path("", include("shop.accounts")),
]

handler404 = "shop.views.not_found"
