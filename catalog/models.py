from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import JSONField, Value
from django.urls import reverse
from django.utils import timezone

from .images import picture, upload_validate


class CategoryQuerySet(models.QuerySet):
    def shown(self) -> CategoryQuerySet:
        """The categories shoppers see: active, under an active department (if any)."""
        return self.filter(is_active=True).filter(
            models.Q(parent__isnull=True) | models.Q(parent__is_active=True)
        )


class ProductQuerySet(models.QuerySet):
    def shown(self) -> ProductQuerySet:
        """The products shoppers see: active, in a category they see (an inactive category
        hides its products from every page, the API, search, sitemaps and checkout; they
        come back with it)."""
        return self.filter(is_active=True, category__in=Category.objects.shown().values("pk"))


class Category(models.Model):
    """A node of the two-level category tree: departments and their leaf categories."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    # An inactive category leaves the department menu and its listing is a 404; its products
    # (and a department's whole tree) are hidden with it: see CategoryQuerySet.shown.
    # db_default: seed_catalog's COPY names only the columns it knows.
    is_active = models.BooleanField(default=True, db_default=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name if self.parent_id is None else f"{self.parent} / {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", kwargs={"slug": self.slug})


class Product(models.Model):
    """A product of the catalog, or a variant of one (`parent` set: a size or colour of it,
    with its own SKU, stock and optionally price). Variants are sold, listed under their
    parent's page only; a product with variants is sold through them."""

    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    brand = models.CharField(max_length=80, db_index=True)
    model = models.CharField(max_length=80, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    # Blank only on a variant, which then costs what its parent does.
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    category = models.ForeignKey(Category, related_name="products", on_delete=models.PROTECT)
    rating = models.DecimalField(
        max_digits=2,
        decimal_places=1,
        default=Decimal("0.0"),
        validators=[MinValueValidator(0), MaxValueValidator(5)],
    )
    review_count = models.PositiveIntegerField(default=0)
    # "Top rated" order: the Bayesian average (C*m + rating*n) / (C + n) with the catalog's
    # prior (RatingPrior: m the mean rating of all reviews, C its weight), so one 5-star review
    # does not outrank hundreds of 4.8s; 0 without reviews (ranked last). A PostgreSQL
    # trigger writes it on INSERT and on UPDATE of rating or review_count (migration 0003),
    # whatever path changes them; catalog.services.rating_prior_refresh renews the prior and
    # every score.
    rating_score = models.FloatField(default=0.0, db_default=0.0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Weighted full-text document (name A; brand and category names B; description D). A
    # PostgreSQL trigger writes it on every INSERT and on UPDATEs of those columns, so admin
    # saves, QuerySet.update() and COPY all keep it current (migration 0002). Not indexed
    # here: search reads its copy in search.SearchDocument, which has the GIN index.
    search_vector = SearchVectorField(null=True, editable=False)
    # Variants (Django Oscar's parent and child products): a variant is a Product row of its
    # own, so that stock, carts, orders and reservations, which key on product ids, work per
    # variant as they are. Its name, brand and category follow its parent's
    # (catalog.services.product_variants_sync).
    parent = models.ForeignKey(
        "self", null=True, blank=True, related_name="variants", on_delete=models.CASCADE
    )
    # On a product with variants: the names of its options, in the order shown ("Size",
    # "Colour"). On a variant: its value of each ({"Size": "XL", "Colour": "Red"}).
    # db_default: seed_catalog's COPY names only the columns it knows.
    variant_options = models.JSONField(default=list, blank=True, db_default=Value([], JSONField()))
    option_values = models.JSONField(default=dict, blank=True, db_default=Value({}, JSONField()))

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["category", "is_active", "price"], name="product_cat_price"),
            models.Index(fields=["category", "is_active", "rating"], name="product_cat_rating"),
            models.Index(
                fields=["category", "is_active", "-rating_score", "id"], name="product_cat_score"
            ),
            models.Index(fields=["is_active", "created_at"], name="product_active_new"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gt=0)
                | models.Q(price__isnull=True, parent__isnull=False),
                name="product_price_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.parent_id is None and self.price is None:
            raise ValidationError({"price": "A product needs a price (only a variant may take "
                                            "its parent's)."})


class RatingPrior(models.Model):
    """The one row (id 1) of the prior every product's `rating_score` is computed with."""

    mean = models.FloatField(default=0.0)
    weight = models.PositiveIntegerField(default=10)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.mean:.2f} x {self.weight}"


class ProductImage(models.Model):
    """A picture of a product: the uploaded original, its renditions made on save (see
    catalog.images), its place in the gallery and its alt text."""

    product = models.ForeignKey(Product, related_name="images", on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)
    image = models.ImageField(
        upload_to="products/%Y/%m/",
        width_field="width",
        height_field="height",
        max_length=200,
        validators=[upload_validate],
        # Rows from before pictures were uploaded have none; pages skip them.
        default="",
    )
    width = models.PositiveIntegerField(null=True, editable=False)
    height = models.PositiveIntegerField(null=True, editable=False)
    alt = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the picture shows, for shoppers who can't see it.",
    )

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(fields=["product", "position"], name="image_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.product} #{self.position}"

    def picture(self) -> dict:
        """src, srcset and alt for a page (no disk access)."""
        return picture(self.image.name, self.width, self.alt)


class Review(models.Model):
    """A buyer's review of a product: shown once staff approve it, and only approved reviews
    count towards the product's `rating` and `review_count` (catalog.services keeps them)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for moderation"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    product = models.ForeignKey(Product, related_name="reviews", on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, related_name="reviews", on_delete=models.CASCADE
    )
    # The name shown with the review, taken when it was written: the page never reads the user.
    author = models.CharField(max_length=150)
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    title = models.CharField(max_length=120)
    text = models.TextField(max_length=4000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "user"], name="review_one_per_buyer"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
        ]
        indexes = [
            # The product page's list: approved reviews of one product, newest first.
            models.Index(
                fields=["product", "-created_at", "-id"],
                condition=models.Q(status="approved"),
                name="review_approved_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.title}"
