#!/usr/bin/env bash
# Create .venv with Python 3.11 and install requirements-dev.txt into it.
# Skips the install while requirements*.txt are unchanged: their checksum is kept in
# .venv/.requirements.sha256. PYTHON=/path/to/python3.11 picks another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.requirements.sha256"

is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3.11
    # No python3.11 on PATH, but python3 is 3.11: use it.
    if ! command -v python3.11 >/dev/null 2>&1 && is_311 python3; then PYTHON=python3; fi
fi
if ! command -v "$PYTHON" >/dev/null 2>&1 || ! is_311 "$PYTHON"; then
    echo "venv: $PYTHON is not a Python 3.11. Install Python 3.11 (Debian: apt-get install python3.11" \
         "python3.11-venv) or point PYTHON at one: make run PYTHON=/path/to/python3.11" >&2
    exit 1
fi

# A venv from another Python (or a broken one, e.g. after its Python moved) is made anew.
if ! is_311 "$VENV/bin/python"; then
    echo "venv: creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv --clear "$VENV"
    rm -f "$STAMP"
fi

want="$(cat requirements.txt requirements-dev.txt | "$VENV/bin/python" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "venv: installing requirements-dev.txt into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
    echo "$want" > "$STAMP"
fi
