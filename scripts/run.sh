#!/usr/bin/env bash
# `make run`: make sure the services answer, prepare the database, the static files, the demo
# admin, the catalog and the shelf, then run gunicorn, the Celery worker and Celery beat under
# honcho (see Procfile). Ctrl-C stops all of it, and any database or Redis server that this run
# started itself (servers that were already running are left alone).
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=127.0.0.1
PORT=8000
URL="http://$HOST:$PORT/"

# config/wsgi.py defaults to production settings: every process here must use the local ones.
export DJANGO_SETTINGS_MODULE=config.settings.local
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONUNBUFFERED=1

mkdir -p .local/run
record=".local/run/run-$$.json"
banner_pid=""

cleanup() {
    trap '' INT TERM  # a second Ctrl-C must not cut the clean-up short
    if [ -n "$banner_pid" ]; then kill "$banner_pid" 2>/dev/null || true; fi
    python scripts/services.py down --record "$record" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() {  # bash's /dev/tcp: no process, immediate on loopback
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

if port_open "$HOST" "$PORT"; then
    echo "run: something already listens on $HOST:$PORT (another make run?); stop it first." >&2
    exit 1
fi

python scripts/services.py up --record "$record" --create-db
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
admin="$(python manage.py ensure_demo_admin)"
echo "$admin"
python manage.py seed_catalog --products 20000 --if-empty
# The 500 most popular products now; the hourly beat task fills the rest up to the budget.
python manage.py warm_cache --products 500

# Say where the shop is once gunicorn answers (bounded: gives up after two minutes).
(
    for _ in $(seq 600); do
        if port_open "$HOST" "$PORT"; then
            printf '\n==> Shelf is up: %s\n==> Admin: %sadmin/\n==> %s\n==> Ctrl-C stops everything.\n\n' \
                "$URL" "$URL" "$admin"
            exit 0
        fi
        sleep 0.2
    done
) &
banner_pid=$!

# Ctrl-C is how the shop is stopped: honcho stops its processes and exits 130, and that is a
# clean stop, not the failure that make would report as "Error 130". Not left to `set -e`,
# which would exit with honcho's 130 before the INT trap runs.
trap 'exit 0' INT
status=0
# honcho's own .env loading is off (-e /dev/null): it would let .env override the environment,
# while the settings read .env with the environment taking precedence.
honcho start --procfile Procfile --env /dev/null || status=$?
if [ "$status" -eq 130 ]; then
    exit 0
fi
exit "$status"
