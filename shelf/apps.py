from django.apps import AppConfig


class ShelfConfig(AppConfig):
    name = "shelf"
    label = "shelf"
    verbose_name = "Display shelf"
