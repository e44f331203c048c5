#!/usr/bin/env bash
# `make test`: make sure the services answer, then `ruff check .`, `lint-imports` and
# `pytest "$@"` with the test settings. Stops any server it started itself; exits with
# pytest's code (or that of the first check that failed, if only a check failed).
set -euo pipefail
cd "$(dirname "$0")/.."

# An exported DJANGO_SETTINGS_MODULE would beat pyproject.toml's: the test settings point at
# other Redis databases and another PostgreSQL database, so make sure they are the ones used.
export DJANGO_SETTINGS_MODULE=config.settings.test
export PATH="$PWD/.venv/bin:$PATH"
# The suite starts some sixty Python processes (gunicorn, Celery, manage.py): let them share
# compiled bytecode (__pycache__/, ignored by git) instead of each compiling the project anew
# where the environment says not to write it.
unset PYTHONDONTWRITEBYTECODE

mkdir -p .local/run
record=".local/run/test-$$.json"
extra=".local/run/test-$$-worker"
cleanup() {
    trap '' INT TERM
    python scripts/services.py down --record "$record" || true
    for file in "$extra"-*.json; do
        [ -e "$file" ] && { python scripts/services.py down --record "$file" || true; }
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python scripts/services.py up --record "$record"

# pytest in SHELF_TEST_WORKERS processes (pytest-xdist; 1: one process, as before). The suite
# mostly waits on the servers it starts (one core busy on average), so two processes take
# about half the time on two cores. Each worker past the first gets a Redis server of its own
# (config/settings/test.py says why), on ports from 6393 up, started here if nothing answers.
workers="${SHELF_TEST_WORKERS:-2}"
parallel=()
if [ "$workers" -gt 1 ]; then
    servers="-"  # worker 0 keeps the configured test Redis
    for n in $(seq 1 $((workers - 1))); do
        url="redis://127.0.0.1:$((6392 + n))/0"
        REDIS_CACHE_URL="$url" REDIS_STATE_URL="$url" CELERY_BROKER_URL="$url" \
            python scripts/services.py up --record "$extra-$n.json"
        servers="$servers,$url"
    done
    export TEST_REDIS_SERVERS="$servers"
    parallel=(-n "$workers" --dist loadfile)
fi

# The browser tests need the system's Chromium, the alert-rule test promtool, the edge-cache
# tests Varnish: install them, or skip only those tests (never in CI).
. scripts/apt.sh
. scripts/browser.sh
. scripts/promtool.sh
. scripts/varnish.sh
shelf_browser || exit 1
shelf_promtool || exit 1
shelf_varnish || exit 1

echo "test: ruff check ."
ruff_status=0
ruff check . || ruff_status=$?

echo "test: lint-imports (the layers in pyproject.toml: imports only go down)"
layers_status=0
lint-imports --no-cache || layers_status=$?

echo "test: pip-audit (dependencies; reports, never fails the build unless SHELF_AUDIT_STRICT=1)"
audit_status=0
python scripts/audit.py || audit_status=$?

echo "test: pytest ${parallel[*]} $*"
pytest_status=0
pytest "${parallel[@]}" "$@" || pytest_status=$?

# The skip reason was printed before ruff, hundreds of lines up: say it again where it is read.
if [ -n "${SHELF_E2E_SKIP:-}" ]; then
    echo "test: the browser tests (-m e2e) did NOT run: $SHELF_E2E_SKIP" >&2
fi
if [ -n "${SHELF_PROMTOOL_SKIP:-}" ]; then
    echo "test: the alert rules were NOT tested: $SHELF_PROMTOOL_SKIP" >&2
fi
if [ -n "${SHELF_VARNISH_SKIP:-}" ]; then
    echo "test: the edge-cache tests did NOT run: $SHELF_VARNISH_SKIP" >&2
fi

if [ "$pytest_status" -ne 0 ]; then
    exit "$pytest_status"
fi
if [ "$layers_status" -ne 0 ]; then
    echo "test: pytest passed, but an import breaks the layers (see lint-imports above)" >&2
    exit "$layers_status"
fi
if [ "$audit_status" -ne 0 ]; then
    echo "test: pytest passed, but pip-audit found vulnerabilities (see above)" >&2
    exit "$audit_status"
fi
if [ "$ruff_status" -ne 0 ]; then
    echo "test: pytest passed, but ruff check failed (see above)" >&2
    exit "$ruff_status"
fi
