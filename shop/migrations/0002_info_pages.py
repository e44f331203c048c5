"""The information pages the footer links to, as first text for the admin to edit."""

from django.db import migrations

from shop.info import info_pages_ensure


def create_pages(apps, schema_editor) -> None:
    info_pages_ensure(apps.get_model("sites", "Site"), apps.get_model("flatpages", "FlatPage"))


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_shelf_user"),
        ("sites", "0002_alter_domain_unique"),
        ("flatpages", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_pages, migrations.RunPython.noop)]
