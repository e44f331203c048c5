from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from inventory.models import Stock


class SearchTerm(models.Model):
    """A word of the catalog's product names, brands and category names: the vocabulary the
    typo fallback picks corrections from (rebuilt by search.services.search_terms_refresh)."""

    word = models.CharField(max_length=64, primary_key=True)
    documents = models.PositiveIntegerField(help_text="Products whose text holds the word.")

    class Meta:
        indexes = [GinIndex(fields=["word"], name="search_term_trgm", opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.word


class SearchDocument(models.Model):
    """What search reads of a listed, active product (catalog's Product with no parent), one
    row each, kept by PostgreSQL triggers on catalog_product (migration 0002), so that every
    write path (admin, update(), COPY, the seed) keeps it current within the same transaction.

    A narrow copy rather than catalog_product itself: a broad query reads 15,000 of these rows
    (`phone` on the 100,000-product demo catalog), and a product row is 1.1 kB with the columns
    search needs behind its text and JSON ones, which PostgreSQL walks on every row. Here they
    come first, in 0.6 kB rows that stay in shared buffers (docs/search-benchmark.md)."""

    product_id = models.BigIntegerField(primary_key=True)
    category_id = models.BigIntegerField()
    rating_score = models.FloatField()
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    search_vector = SearchVectorField()
    # The product's stock row, which has the same key (no column of its own): "in stock only"
    # joins it as catalog's listings do (catalog.selectors.in_stock_q).
    stock = models.ForeignObject(
        Stock,
        on_delete=models.DO_NOTHING,
        from_fields=["product_id"],
        to_fields=["product"],
        related_name="+",
    )

    class Meta:
        indexes = [GinIndex(fields=["search_vector"], name="search_document_vector")]

    def __str__(self) -> str:
        return str(self.product_id)
