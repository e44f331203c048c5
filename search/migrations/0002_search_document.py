"""search_document: the narrow copy of listed, active products that search reads, kept by
statement-level triggers on catalog_product.

One INSERT, UPDATE or DELETE statement on catalog_product runs one trigger statement or two
over its transition table, so the seed's INSERT ... SELECT of 100,000 products costs one bulk
INSERT here rather than 100,000 row triggers. A row leaves when its product is deactivated,
becomes a variant or is deleted, and comes back with it. The columns come from the product
row as its BEFORE triggers left it (search_vector, rating_score). A category's activeness is
not copied: search joins catalog_category for it, as catalog's Product.objects.shown() does.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

SYNC_SQL = """
CREATE FUNCTION search_document_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_searchdocument d USING changed c
    WHERE d.product_id = c.id AND NOT (c.parent_id IS NULL AND c.is_active);
    INSERT INTO search_searchdocument
        (product_id, category_id, rating_score, price, search_vector)
    SELECT id, category_id, rating_score, price, coalesce(search_vector, '')
    FROM changed WHERE parent_id IS NULL AND is_active
    ON CONFLICT (product_id) DO UPDATE SET
        category_id = EXCLUDED.category_id, rating_score = EXCLUDED.rating_score,
        price = EXCLUDED.price, search_vector = EXCLUDED.search_vector
    -- Most product updates (stock-free saves, updated_at) change nothing here: no new row.
    WHERE (search_searchdocument.category_id, search_searchdocument.rating_score,
           search_searchdocument.price, search_searchdocument.search_vector)
          IS DISTINCT FROM
          (EXCLUDED.category_id, EXCLUDED.rating_score, EXCLUDED.price, EXCLUDED.search_vector);
    RETURN NULL;
END
$$;

CREATE FUNCTION search_document_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_searchdocument d USING gone g WHERE d.product_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_document_insert AFTER INSERT ON catalog_product
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search_document_upsert();
CREATE TRIGGER search_document_update AFTER UPDATE ON catalog_product
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search_document_upsert();
CREATE TRIGGER search_document_delete AFTER DELETE ON catalog_product
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION search_document_delete();

INSERT INTO search_searchdocument (product_id, category_id, rating_score, price, search_vector)
SELECT id, category_id, rating_score, price, coalesce(search_vector, '')
FROM catalog_product WHERE parent_id IS NULL AND is_active;
"""

REVERSE_SQL = """
DROP TRIGGER search_document_insert ON catalog_product;
DROP TRIGGER search_document_update ON catalog_product;
DROP TRIGGER search_document_delete ON catalog_product;
DROP FUNCTION search_document_upsert();
DROP FUNCTION search_document_delete();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_initial"),
        ("catalog", "0008_product_search_vector_unindexed"),
        ("inventory", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                ("product_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("category_id", models.BigIntegerField()),
                ("rating_score", models.FloatField()),
                ("price", models.DecimalField(decimal_places=2, max_digits=10, null=True)),
                ("search_vector", django.contrib.postgres.search.SearchVectorField()),
                (
                    "stock",
                    models.ForeignObject(
                        from_fields=["product_id"],
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="inventory.stock",
                        to_fields=["product"],
                    ),
                ),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["search_vector"], name="search_document_vector"
                    )
                ],
            },
        ),
        migrations.RunSQL(SYNC_SQL, reverse_sql=REVERSE_SQL),
    ]
