"""Databases made before the toolkit and the orders left the shop app migrate without loss.

`data/before_app_split.sql` is `pg_dump --inserts` of a database migrated at the last commit
before the split (9c6d70b) holding a user, a product with stock, a cart, a paid order with
its line and payment, an outbox row and an admin log entry about the order.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from shelf.tests.servers import database_url_for

pytestmark = pytest.mark.slow

DUMP = Path(__file__).with_name("data") / "before_app_split.sql"
ROOT = Path(__file__).resolve().parents[2]
READ_BACK = """
import json
from django.contrib.admin.models import LogEntry
from cart.models import Cart
from orders.models import Order
from shelf.models import PendingBump
order = Order.objects.prefetch_related("lines", "payments").get(number="SH-AAAA-BBBB")
cart = Cart.objects.get(owner="u:1")
entry = LogEntry.objects.get(object_repr="SH-AAAA-BBBB")
print(json.dumps({
    "order": [order.user.username, order.email, str(order.total), order.status],
    "lines": [[ln.sku, ln.quantity, str(ln.unit_price)] for ln in order.lines.all()],
    "payments": [[p.reference, str(p.amount)] for p in order.payments.all()],
    "cart": dict(cart.lines.values_list("product__sku", "quantity")),
    "bumps": [row.tags for row in PendingBump.objects.all()],
    "log": [
        entry.content_type.app_label, entry.content_type.model, entry.get_edited_object().number
    ],
}))
"""


def _admin_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    )


@pytest.fixture
def old_database():
    name = f"{settings.DATABASES['default']['NAME']}_before_split"
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=name, autocommit=True
    ) as conn:
        conn.execute(DUMP.read_text())
    yield name
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(database: str, *args: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for(database),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_database_from_before_the_split_migrates_forward_with_every_row(old_database):
    applied = _manage(old_database, "migrate", "--no-input")
    assert "Applying orders.0001_initial... OK" in applied
    assert "Applying shelf.0001_initial... OK" in applied
    # Nothing left to migrate, and the models match the migrations.
    assert "No migrations to apply" in _manage(old_database, "migrate", "--no-input")
    _manage(old_database, "makemigrations", "--check", "--dry-run")

    found = json.loads(_manage(old_database, "shell", "-c", READ_BACK).strip().splitlines()[-1])
    assert found == {
        "order": ["ada", "ada@example.com", "82.95", "paid"],
        "lines": [["LAMP-1", 2, "39.00"]],
        "payments": [["tc_123", "82.95"]],
        "cart": {"LAMP-1": 2},
        "bumps": [["product:2", "listing:1"]],
        # The admin's history of the order follows it to the orders app.
        "log": ["orders", "order", "SH-AAAA-BBBB"],
    }
