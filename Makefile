# Shelf: the two commands are `make run` and `make test`. See README.md.
#
#   make run                 set everything up and run the shop on http://127.0.0.1:8000/
#   make test                set everything up, then ruff check . and pytest
#   make test ARGS="-k foo"  extra arguments for pytest
#   make screenshots         the browser tests only, saving their pictures to docs/screenshots/
#   make venv                only create/update .venv
#   make services            only make sure PostgreSQL and Redis answer (leaves them running)
#   make services-status     say which services answer
#   make stop                stop every project-local server under .local/ (after a crash)
#   make stack               the production topology here: nginx, the edge cache (Varnish),
#                            3 app processes, worker, beat
#   make stack-bench         3 app processes against 1 through nginx, and the edge's figures:
#                            make bench's stack phase alone; writes docs/stack.md
#   make compose-config      validate docker/compose.yaml offline (every profile)
#   make bench-search        search latency on a scratch 100,000-product catalog (see docs/)
#   make bench               the shop with and without the shelf under a shopper-like load;
#                            writes docs/benchmarks.md, with the stack phase (about 13 minutes
#                            and that phase's few; see README)
#
# PYTHON=/path/to/python3.11 picks the interpreter for .venv.

SHELL := /bin/bash
PYTHON ?=
ARGS ?=
export PYTHON

.DEFAULT_GOAL := help
.PHONY: help venv run test screenshots services services-status stop stack stack-bench compose-config bench-search bench

help:
	@sed -n '1,/^$$/p' Makefile | sed -n 's/^# \{0,1\}//p'

venv:
	@scripts/venv.sh

run: venv
	@scripts/run.sh

test: venv
	@scripts/test.sh $(ARGS)

# make test writes them to the ignored .local/screenshots/, so that it leaves the tree clean.
screenshots: venv
	@SHELF_SCREENSHOTS="$(CURDIR)/docs/screenshots" scripts/test.sh -m e2e $(ARGS)

services: venv
	@.venv/bin/python scripts/services.py up --create-db

services-status: venv
	@.venv/bin/python scripts/services.py status

stop:
	@python3 scripts/services.py down --all

stack: venv
	@.venv/bin/python -m scripts.stack run

stack-bench: venv
	@.venv/bin/python -m scripts.stack bench

compose-config: venv
	@.venv/bin/python -m scripts.stack compose-config

bench-search: venv
	@scripts/bench_search.sh

# locust and matplotlib only for this target (requirements-bench.txt): make test and CI skip them.
bench: venv
	@.venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-bench.txt
	@.venv/bin/python -m bench.run
