"""The shop's URLs plus the benchmark's ceiling views; used only by config.settings.bench."""

from django.urls import path

from bench import views

from .urls import handler404  # noqa: F401
from .urls import urlpatterns as shop_urlpatterns

urlpatterns = [
    path("bench/bare/", views.bare, name="bench-bare"),
    path("bench/prerendered/", views.prerendered, name="bench-prerendered"),
    *shop_urlpatterns,
]
