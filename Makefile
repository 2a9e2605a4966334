# Stagecraft — the two commands a newcomer needs are `make run` and `make test`.
# With DATABASE_URL / REDIS_URL unset they start an embedded PostgreSQL and Redis
# under ./.data (scripts/services.py) and stop them again on exit.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := $(PY) scripts/services.py exec --
# Test processes (pytest-xdist): the suite waits on PostgreSQL, Celery and Chromium
# often enough that two keep a 2-core machine busy; a process that runs out of tests
# takes half of the other's (worksteal). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: run test setup assets lint typecheck check services-start services-stop bench-%

run: setup
	$(SERVICES) $(PY) scripts/devrun.py

test: setup
	sh scripts/chromium.sh
	$(SERVICES) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

setup: $(VENV)/.installed static/vendor/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

static/vendor/.installed: package.json package-lock.json scripts/vendor_assets.py
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) scripts/vendor_assets.py
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy .

check: lint typecheck

services-start: setup
	$(PY) scripts/services.py start

services-stop: setup
	$(PY) scripts/services.py stop

# make bench-ingest, make bench-sweep, ...: the last line printed is one JSON object.
bench-%: setup
	$(SERVICES) $(PY) -m bench.$*
