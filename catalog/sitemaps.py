from django.contrib.sitemaps import Sitemap

from .models import Category, Product


class ProductSitemap(Sitemap):
    # 10,000 URLs a file: 100,000 products make ten small files under the index.
    limit = 10_000

    def items(self):
        # Variants have no page of their own (theirs redirects to their parent's).
        return (
            Product.objects.shown().filter(parent__isnull=True)
            .only("slug", "updated_at")
            .order_by("pk")
        )

    def lastmod(self, product: Product):
        return product.updated_at


class CategorySitemap(Sitemap):
    def items(self):
        return Category.objects.shown().only("slug").order_by("pk")


SITEMAPS = {"categories": CategorySitemap, "products": ProductSitemap}
