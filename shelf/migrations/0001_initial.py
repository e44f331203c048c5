# Declares models that moved here from the shop app, with their tables (see shelf/adopt.py).

import django.contrib.postgres.fields
from django.db import migrations, models

from shelf.adopt import adopt_tables


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = adopt_tables('shelf', from_app='shop', state_operations=[
        migrations.CreateModel(
            name='PendingBump',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tags', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=200), size=None)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'db_table': 'shop_pendingbump',
                'ordering': ['id'],
            },
        ),
    ])
