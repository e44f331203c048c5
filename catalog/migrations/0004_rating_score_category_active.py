"""Categories can be deactivated; products get a Bayesian "Top rated" score kept by a trigger.

`rating_score` = (C*m + rating*n) / (C + n), n the review count, with the prior (m, C) read
from the one row of catalog_ratingprior; 0 for a product without reviews. The trigger (not Django) writes it, so every path that
changes a rating keeps it current: admin saves, QuerySet.update(), seed_catalog's COPY.
catalog.services.rating_prior_refresh renews the prior (the catalog's mean rating) and every
score; the migration does it once with the default weight (CATALOG_RATING_PRIOR_WEIGHT).
"""

from django.db import migrations, models

SCORE_SQL = """
CREATE FUNCTION catalog_rating_score(
    p_rating numeric, p_reviews integer, p_mean double precision, p_weight integer
) RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    -- Unreviewed products have no rating to rank: after every reviewed one, not at the mean.
    SELECT CASE WHEN p_reviews = 0 THEN 0
        ELSE (p_weight * p_mean + p_rating * p_reviews) / (p_weight + p_reviews) END
$$;

CREATE FUNCTION catalog_product_rating_score_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prior record;
BEGIN
    SELECT mean, weight INTO prior FROM catalog_ratingprior WHERE id = 1;
    NEW.rating_score := catalog_rating_score(
        NEW.rating, NEW.review_count, coalesce(prior.mean, 0), coalesce(prior.weight, 0));
    RETURN NEW;
END
$$;

CREATE TRIGGER catalog_product_rating_score
    BEFORE INSERT OR UPDATE OF rating, review_count ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_rating_score_update();

INSERT INTO catalog_ratingprior (id, mean, weight, updated_at)
SELECT 1, coalesce(sum(rating * review_count) / nullif(sum(review_count), 0), 0), 10, now()
FROM catalog_product WHERE is_active;

UPDATE catalog_product p
SET rating_score = catalog_rating_score(p.rating, p.review_count, r.mean, r.weight)
FROM catalog_ratingprior r WHERE r.id = 1;
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS catalog_product_rating_score ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_rating_score_update();
DROP FUNCTION IF EXISTS catalog_rating_score(numeric, integer, double precision, integer);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_review"),
    ]

    operations = [
        migrations.CreateModel(
            name="RatingPrior",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("mean", models.FloatField(default=0.0)),
                ("weight", models.PositiveIntegerField(default=10)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name="category",
            name="is_active",
            field=models.BooleanField(db_default=True, default=True),
        ),
        migrations.AddField(
            model_name="product",
            name="rating_score",
            field=models.FloatField(db_default=0.0, default=0.0, editable=False),
        ),
        migrations.RunSQL(SCORE_SQL, reverse_sql=DROP_SQL),
        # After the backfill: building the index once is faster than updating it row by row.
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                fields=["category", "is_active", "-rating_score", "id"], name="product_cat_score"
            ),
        ),
    ]
