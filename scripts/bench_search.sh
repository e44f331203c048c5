#!/usr/bin/env bash
# make bench-search: p50/p95 of uncached and cached search on a scratch 100,000-product catalog.
#
# Creates a scratch database (BENCH_DATABASE_URL, default shelf_searchbench on the local
# server), migrates it, seeds it with seed_catalog, runs `manage.py bench_search`, writes
# docs/search-benchmark.md and drops the database again (BENCH_KEEP_DB=1 keeps it). The shelf
# is a scratch Redis database (BENCH_REDIS_URL, default db 13); nothing is written to the
# session or broker roles, which point at the same database so no real one is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCTS=${BENCH_PRODUCTS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
OUTPUT=${BENCH_OUTPUT:-docs/search-benchmark.md}
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/shelf_searchbench}
export REDIS_CACHE_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}
export REDIS_STATE_URL=$REDIS_CACHE_URL CELERY_BROKER_URL=$REDIS_CACHE_URL
export DJANGO_SETTINGS_MODULE=config.settings.local
# One client address making about 1,000 searches a minute: the default 60/m answers 429.
export SEARCH_RATE_LIMIT=${BENCH_SEARCH_RATE_LIMIT:-1000000/m}
PY=.venv/bin/python

scratch_db() {  # create | drop
    "$PY" - "$1" "$DATABASE_URL" <<'PYTHON'
import sys
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

action, url = sys.argv[1], urlsplit(sys.argv[2])
name = unquote(url.path.lstrip("/"))
with psycopg.connect(
    host=url.hostname, port=url.port or 5432, user=unquote(url.username or "postgres"),
    password=unquote(url.password or "") or None, dbname="postgres", autocommit=True,
) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if action == "create" and not exists:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    elif action == "drop" and exists:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
PYTHON
}

scratch_db create
[ "${BENCH_KEEP_DB:-0}" = 1 ] || trap 'scratch_db drop' EXIT
"$PY" manage.py migrate -v0
"$PY" manage.py collectstatic --noinput -v0  # the pages link the hashed stylesheet
seeded=$("$PY" manage.py seed_catalog --products "$PRODUCTS" --replace 2>/dev/null | grep Seeded)
echo "$seeded"
command="make bench-search"
for var in BENCH_ROUNDS BENCH_PRODUCTS BENCH_REDIS_URL BENCH_DATABASE_URL BENCH_SEARCH_RATE_LIMIT; do
    if [ -n "${!var:-}" ]; then command="$var=${!var} $command"; fi
done
"$PY" manage.py bench_search --rounds "$ROUNDS" --output "$OUTPUT" --seed-summary "$seeded" \
    --command "$command"
