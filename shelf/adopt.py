"""A migration step for models that moved into an app from another one with their tables.

The toolkit's outbox and the orders used to belong to the shop app. Their tables keep their
names (no data moves), and the new app's first migration declares the models with
`adopt_tables`: on a database made before the move the tables are there already and only
Django's state and content types change hands; on a new database the tables are created.
"""

from collections.abc import Sequence

from django.db import migrations
from django.db.migrations.operations.base import Operation


def adopt_tables(
    app_label: str, from_app: str, state_operations: Sequence[Operation]
) -> list[Operation]:
    """Operations declaring the models of `state_operations` (CreateModel, AddIndex, ...) in
    `app_label`, taking over their tables and content types from `from_app`."""
    names = [op.name.lower() for op in state_operations if isinstance(op, migrations.CreateModel)]

    def create_missing_tables(apps, schema_editor) -> None:
        existing = set(schema_editor.connection.introspection.table_names())
        for name in names:  # in declaration order: a model before the ones pointing to it
            model = apps.get_model(app_label, name)
            if model._meta.db_table not in existing:
                schema_editor.create_model(model)

    def move_content_types(apps, schema_editor) -> None:
        # Admin log entries and permissions point at the content type: keep its row.
        content_type = apps.get_model("contenttypes", "ContentType")
        for name in names:
            if not content_type.objects.filter(app_label=app_label, model=name).exists():
                content_type.objects.filter(app_label=from_app, model=name).update(
                    app_label=app_label
                )

    return [
        migrations.SeparateDatabaseAndState(state_operations=list(state_operations)),
        migrations.RunPython(create_missing_tables, migrations.RunPython.noop),
        migrations.RunPython(move_content_types, migrations.RunPython.noop),
    ]
