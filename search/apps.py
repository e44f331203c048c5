from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"

    def ready(self) -> None:
        from shelf.warming import register_warm_plan

        from . import receivers, services

        receivers.connect()
        register_warm_plan("search", lambda queries, **_: services.search_warm_plan(queries))
