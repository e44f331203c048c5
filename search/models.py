from django.contrib.postgres.indexes import GinIndex
from django.db import models


class SearchTerm(models.Model):
    """A word of the catalog's product names, brands and category names: the vocabulary the
    typo fallback picks corrections from (rebuilt by search.services.search_terms_refresh)."""

    word = models.CharField(max_length=64, primary_key=True)
    documents = models.PositiveIntegerField(help_text="Products whose text holds the word.")

    class Meta:
        indexes = [GinIndex(fields=["word"], name="search_term_trgm", opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.word
