"""Full-text search over products: a weighted tsvector kept current by a trigger.

The trigger (not Django) writes `search_vector`, so every write path keeps it current: admin
saves, QuerySet.update()/bulk_update() of the indexed columns, and seed_catalog's COPY (row
triggers fire on COPY). The document also holds the category's and its parent's names, which
live in another table: catalog.services.category_changed re-indexes a renamed category's
products with `catalog_product_search_document`.

pg_trgm is created here for search's typo fallback (similarity() over its vocabulary).
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

DOCUMENT_SQL = """
CREATE FUNCTION catalog_product_search_document(
    p_name text, p_brand text, p_description text, p_category_id bigint
) RETURNS tsvector LANGUAGE plpgsql STABLE AS $$
DECLARE
    categories text;
BEGIN
    -- PL/pgSQL rather than SQL: called once per row from the trigger, it saves the SQL
    -- function executor's start-up each time (about a quarter of a 100,000-row COPY's cost).
    SELECT concat_ws(' ', c.name, parent.name) INTO categories
    FROM catalog_category c
    LEFT JOIN catalog_category parent ON parent.id = c.parent_id
    WHERE c.id = p_category_id;
    RETURN setweight(to_tsvector('english', coalesce(p_name, '')), 'A')
        || setweight(to_tsvector('english', coalesce(p_brand, '')), 'B')
        || setweight(to_tsvector('english', coalesce(categories, '')), 'B')
        || setweight(to_tsvector('english', coalesce(p_description, '')), 'D');
END
$$;

CREATE FUNCTION catalog_product_search_vector_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := catalog_product_search_document(
        NEW.name, NEW.brand, NEW.description, NEW.category_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF name, brand, description, category_id ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector_update();

UPDATE catalog_product
SET search_vector = catalog_product_search_document(name, brand, description, category_id);
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS catalog_product_search_vector ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_vector_update();
DROP FUNCTION IF EXISTS catalog_product_search_document(text, text, text, bigint);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunSQL(DOCUMENT_SQL, reverse_sql=DROP_SQL),
        # After the backfill: building the index once is faster than updating it row by row.
        migrations.AddIndex(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="product_search_vector"
            ),
        ),
    ]
