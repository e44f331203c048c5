"""Product pictures: uploads checked in the admin, renditions made on save, srcset on every
page that shows the product, a changed picture on those pages at the next request."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from catalog.images import WIDTHS, rendition_name
from catalog.models import Product, ProductImage

from .factories import ProductImageFactory

pytestmark = pytest.mark.django_db(transaction=True)


def picture_file(name="photo.png", size=(900, 900), kind="PNG", colour="teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{kind.lower()}")


def product_form(product: Product, **images) -> dict:
    product.refresh_from_db()  # the stored rating, rounded to one decimal
    form = {
        "name": product.name, "slug": product.slug, "sku": product.sku, "brand": product.brand,
        "model": product.model, "attributes": "{}", "description": product.description,
        "price": str(product.price), "category": product.category_id,
        "rating": str(product.rating), "review_count": product.review_count, "is_active": "on",
        "created_at_0": product.created_at.strftime("%Y-%m-%d"),
        "created_at_1": product.created_at.strftime("%H:%M:%S"),
        "stock-TOTAL_FORMS": 1, "stock-INITIAL_FORMS": 1, "stock-MIN_NUM_FORMS": 1,
        "stock-MAX_NUM_FORMS": 1, "stock-0-quantity": 25, "stock-0-product": product.pk,
        "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0,
        "images-MIN_NUM_FORMS": 0, "images-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    form.update(images)
    return form


@pytest.fixture
def staff():
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


def upload(staff, product, file, **more):
    images = {
        "images-TOTAL_FORMS": 1, "images-0-position": 0, "images-0-image": file,
        "images-0-alt": "A picture", "images-0-product": product.pk,
    }  # fmt: skip
    form = product_form(product, **images, **more)
    return staff.post(f"/admin/catalog/product/{product.pk}/change/", form)


def image_errors(response) -> list[str]:
    """The picture's errors, when it is the only thing the admin refused."""
    assert response.status_code == 200, "the form was accepted"
    assert not response.context["adminform"].form.errors
    inlines = response.context["inline_admin_formsets"]
    formset = next(f for f in inlines if f.formset.prefix == "images")
    return [str(e) for form in formset.formset.errors for e in form.get("image", [])]


def text_file():
    return SimpleUploadedFile("photo.png", b"not a picture at all", content_type="image/png")


def gif_file():
    return picture_file("photo.gif", (50, 50), "GIF")


@pytest.mark.parametrize(
    ("make", "limits", "message"),
    [
        (text_file, {}, "Upload a valid image"),
        (gif_file, {}, "upload a JPEG, PNG or WebP picture"),
        (picture_file, {"CATALOG_IMAGE_MAX_BYTES": 2_000}, "may be at most"),
        (picture_file, {"CATALOG_IMAGE_MAX_PIXELS": 500_000}, "megapixels"),
    ],
    ids=["not-a-picture", "gif", "too-large", "too-many-pixels"],
)
def test_a_bad_upload_is_a_form_error_and_changes_no_row(catalog, staff, make, limits, message):
    product = catalog["products"][10]
    before = Product.objects.filter(pk=product.pk).values().get()
    with override_settings(**limits):
        response = upload(staff, product, make(), **{"price": "1.00"})
    errors = image_errors(response)
    assert errors and message in " ".join(errors), errors
    assert not ProductImage.objects.filter(product=product).exists()
    assert Product.objects.filter(pk=product.pk).values().get() == before


def test_an_upload_gets_its_renditions_and_shows_on_the_next_page_view(catalog, staff, client):
    product = catalog["products"][-1]  # top rated: first on the category page
    urls = [f"/p/{product.slug}/", "/c/laptops/"]
    for url in urls:
        assert "renditions/" not in client.get(url).content.decode()  # warm, without it
    response = upload(staff, product, picture_file(size=(1000, 800)))
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
    )
    image = ProductImage.objects.get(product=product)
    assert (image.width, image.height, image.alt) == (1000, 800, "A picture")
    for width in (240, 480, 800):
        with default_storage.open(rendition_name(image.image.name, width)) as f:
            assert Image.open(f).format == "WEBP" and Image.open(f).size[0] == width
    assert not default_storage.exists(rendition_name(image.image.name, 1200))  # no upscaling
    for url in urls:
        body = client.get(url).content.decode()
        srcset = re.search(rf'srcset="([^"]*{re.escape(image.image.name[:-4])}[^"]*)"', body)
        assert srcset, url
        assert [w for w in WIDTHS if f" {w}w" in srcset[1]] == [240, 480, 800], url
    assert client.get(f"/api/v1/products/{product.pk}").json()["image"] == (
        "/media/" + rendition_name(image.image.name, 480)
    )


def test_a_replaced_picture_shows_on_the_product_and_category_pages_at_the_next_request(
    catalog, client
):
    product = catalog["products"][-1]
    image = ProductImageFactory(product=product, image__width=600, image__height=600)
    old = image.image.name[:-4]
    urls = [f"/p/{product.slug}/", "/c/laptops/", "/"]
    for url in urls:
        assert old in client.get(url).content.decode(), url
    image.image = picture_file("new.png", (700, 700), colour="orange")
    image.save()  # outside a transaction: its after-commit bumps run at once
    new = image.image.name[:-4]
    assert new != old
    for url in urls:
        body = client.get(url).content.decode()
        assert new in body and old not in body, url


def test_a_warm_product_page_with_pictures_runs_no_sql(catalog, client, django_assert_num_queries):
    product = catalog["products"][0]
    ProductImageFactory(product=product, image__width=900, image__height=900, alt="Front")
    url = f"/p/{product.slug}/"
    client.get(url)
    with django_assert_num_queries(0):
        body = client.get(url).content.decode()
    assert 'alt="Front' in body and " 800w" in body and 'sizes="' in body


def test_pictures_are_served_for_a_year_without_sql(client, django_assert_num_queries):
    image = ProductImageFactory(image__width=500, image__height=500)
    with django_assert_num_queries(0):
        response = client.get("/media/" + rendition_name(image.image.name, 480))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    policy = response["Cache-Control"]
    assert "immutable" in policy and "max-age=31536000" in policy and "public" in policy
    assert client.get("/media/renditions/v1/480/nothing-here.webp").status_code == 404
