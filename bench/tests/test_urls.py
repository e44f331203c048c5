"""The ceiling views exist only under the bench settings' URLconf."""

import pytest
from django.urls import Resolver404, resolve


@pytest.mark.parametrize("path", ["/bench/bare/", "/bench/prerendered/"])
def test_the_shop_s_urls_have_no_bench_views(path):
    with pytest.raises(Resolver404):
        resolve(path)
    assert resolve(path, urlconf="config.urls_bench").url_name.startswith("bench-")


def test_the_bench_urlconf_keeps_every_shop_url():
    for path in ("/", "/p/some-product/", "/c/some-category/", "/search/", "/cart/add/"):
        assert resolve(path, urlconf="config.urls_bench").func == resolve(path).func


def test_bench_responses_say_how_many_sql_statements_they_cost(client, settings):
    settings.ROOT_URLCONF = "config.urls_bench"
    settings.MIDDLEWARE = ["bench.middleware.SQLCountMiddleware", *settings.MIDDLEWARE]
    response = client.get("/bench/bare/")
    assert response.status_code == 200
    assert response["X-SQL-Count"] == "0"
