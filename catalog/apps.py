from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from shelf.pages import register_entry_slot
        from shelf.warming import register_warm_plan

        from . import receivers, services
        from .structured_data import availability_json

        receivers.connect()
        register_entry_slot("availability", availability_json)
        register_warm_plan(
            "catalog", lambda products, **_: services.catalog_warm_plan(products)
        )
