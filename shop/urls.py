from django.urls import path

from . import checkout_views

app_name = "shop"

urlpatterns = [
    path("checkout/", checkout_views.checkout, name="checkout"),
    path("checkout/review/", checkout_views.checkout_review, name="checkout-review"),
    path("checkout/place/", checkout_views.checkout_place, name="checkout-place"),
    path("orders/", checkout_views.order_list, name="orders"),
    path("orders/<str:number>/", checkout_views.order_detail, name="order"),
]
