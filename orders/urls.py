from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/review/", views.checkout_review, name="checkout-review"),
    path("checkout/place/", views.checkout_place, name="checkout-place"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("p/<slug:slug>/review/", views.review_write, name="review-write"),
    path("accounts/addresses/", views.address_list, name="addresses"),
    path("accounts/addresses/add/", views.address_add, name="address-add"),
    path("accounts/addresses/<int:address_id>/", views.address_edit, name="address-edit"),
    path(
        "accounts/addresses/<int:address_id>/delete/", views.address_delete, name="address-delete"
    ),
    path(
        "accounts/addresses/<int:address_id>/default/",
        views.address_make_default,
        name="address-default",
    ),
]
