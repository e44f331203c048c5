from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from shelf.warming import register_warm_plan

        from . import receivers, services

        receivers.connect()
        register_warm_plan(
            "catalog", lambda products, **_: services.catalog_warm_plan(products)
        )
