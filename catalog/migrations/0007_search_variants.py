"""Search finds products by SKU, and products with variants by their variants' SKUs and
option values too ("t-shirt xl red", "SH-FSH-0000123").

The document gains the product's SKU (weight A; its hyphens read as spaces, as search's query
parser splits words, or PostgreSQL's parser would read "-0000012" as a negative number) and, on a product with variants, their SKUs
and option values (weight B). Variants are never listed by search: their parent's document
holds their words, so a query matches the product once. The trigger computes it on the
parent's own writes; a variant's change re-indexes its parent
(catalog.services.products_changed, and catalog.demo_variants after its COPY).
"""

from django.db import migrations

DOCUMENT_SQL = """
CREATE FUNCTION catalog_product_variant_words(p_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(concat_ws(' ', translate(v.sku, '-_./', '    '), (
        SELECT string_agg(value, ' ') FROM jsonb_each_text(v.option_values)
    )), ' ')
    FROM catalog_product v WHERE v.parent_id = p_id AND v.is_active
$$;

CREATE FUNCTION catalog_product_search_document(
    p_id bigint, p_sku text, p_name text, p_brand text, p_description text, p_category_id bigint
) RETURNS tsvector LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN catalog_product_search_document(p_name, p_brand, p_description, p_category_id)
        || setweight(to_tsvector('english', translate(coalesce(p_sku, ''), '-_./', '    ')), 'A')
        || setweight(to_tsvector('english',
                                 coalesce(catalog_product_variant_words(p_id), '')), 'B');
END
$$;

-- A row being inserted has no variants yet (theirs point at it): the seed's COPY of 100,000
-- products is spared a look-up per row.
CREATE OR REPLACE FUNCTION catalog_product_search_vector_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.search_vector := catalog_product_search_document(
                NEW.name, NEW.brand, NEW.description, NEW.category_id)
            || setweight(to_tsvector('english', translate(coalesce(NEW.sku, ''), '-_./', '    ')),
                         'A');
    ELSE
        NEW.search_vector := catalog_product_search_document(
            NEW.id, NEW.sku, NEW.name, NEW.brand, NEW.description, NEW.category_id);
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER catalog_product_search_vector ON catalog_product;
CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF sku, name, brand, description, category_id ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector_update();

UPDATE catalog_product SET search_vector = catalog_product_search_document(
    id, sku, name, brand, description, category_id);
"""

REVERSE_SQL = """
CREATE OR REPLACE FUNCTION catalog_product_search_vector_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := catalog_product_search_document(
        NEW.name, NEW.brand, NEW.description, NEW.category_id);
    RETURN NEW;
END
$$;

DROP TRIGGER catalog_product_search_vector ON catalog_product;
CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF name, brand, description, category_id ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector_update();

DROP FUNCTION catalog_product_search_document(bigint, text, text, text, text, bigint);
DROP FUNCTION catalog_product_variant_words(bigint);

UPDATE catalog_product
SET search_vector = catalog_product_search_document(name, brand, description, category_id);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0006_product_variants"),
    ]

    operations = [migrations.RunSQL(DOCUMENT_SQL, reverse_sql=REVERSE_SQL)]
