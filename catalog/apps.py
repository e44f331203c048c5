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
        # A product page's parts that follow the chosen variant (catalog.selectors): the value
        # is the part itself, rendered and escaped with the page; `chosen` checks the radio
        # buttons of the chosen variant's values.
        register_entry_slot("variant", lambda part: part or "")
        register_entry_slot("chosen", lambda chosen: " checked" if chosen else "")
        register_warm_plan(
            "catalog", lambda products, **_: services.catalog_warm_plan(products)
        )
