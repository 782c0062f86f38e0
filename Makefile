# Two commands: `make run` (set up everything and serve) and `make test` (set up everything and pass).
# `make serve` is the production server (gunicorn); `make run` is Flask's development server with the demo.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app pointsapp
HOST ?= 127.0.0.1
PORT ?= 5000
SERVE_PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run serve worker test test-fast install translations messages db demo lint services browser clean bench bench-claims bench-api

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the dependency list changes.
$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $@

install: $(STAMP) translations

# Re-extract msgids from the sources into messages.pot and merge them into the zh and en catalogues.
# No fuzzy matching: `translations` compiles with --use-fuzzy, so a guessed translation would reach
# users; new msgids arrive empty instead (tests/test_i18n.py fails until they are translated).
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o pointsapp/translations/messages.pot --no-wrap --no-location --sort-output .
	$(VENV)/bin/pybabel update -i pointsapp/translations/messages.pot -d pointsapp/translations -l zh --no-wrap --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel update -i pointsapp/translations/messages.pot -d pointsapp/translations -l en --no-wrap --no-fuzzy-matching --ignore-obsolete

# Catalogues are compiled at install time; .mo files are not committed.
translations: $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -d pointsapp/translations

db: install
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo --if-empty

# The development server and, beside it, the job worker (big imports, the nightly jobs); stopping the
# server (Ctrl-C) stops the worker too. The worker's log: instance/worker.log.
run: demo
	@echo "pointsapp on http://$(HOST):$(PORT)  (demo logins: see README.md; job worker log: instance/worker.log)"
	@echo "This is Flask's development server: one process, for trying the app out. The production server is 'make serve' (gunicorn)."
	@$(FLASK) jobs worker >>instance/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} TRUSTED_HOSTS=$${TRUSTED_HOSTS:-localhost} \
		$(FLASK) run --host $(HOST) --port $(PORT)

# The job worker alone (queued jobs and the periodic ones): JOBS_URL picks the queue (README: Background jobs).
worker: db
	$(FLASK) jobs worker

# The production server: migrate, then gunicorn with pointsapp/serving/gunicorn_conf.py (workers from the
# cores; WEB_CONCURRENCY, GUNICORN_THREADS, BIND... override it: README "Production server"). No demo is
# seeded: `make demo serve` builds it first on an empty database. Set DATABASE_URL, SECRET_KEY,
# RATELIMIT_STORAGE_URI and PUBLIC_BASE_URL for a real deployment (docs/deploy.md).
serve: db
	@echo "pointsapp production server (gunicorn) on http://$(HOST):$(SERVE_PORT)"
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(SERVE_PORT)} TRUSTED_HOSTS=$${TRUSTED_HOSTS:-localhost} \
		BIND=$${BIND:-$(HOST):$(SERVE_PORT)} \
		exec $(VENV)/bin/gunicorn -c python:pointsapp.serving.gunicorn_conf 'pointsapp:create_app()'

# PostgreSQL, Redis and Chromium for the full suite; .ci/ensure-services starts or installs what is missing.
services:
	bash .ci/ensure-services

# The whole suite in parallel (pytest-xdist): each worker has its own SQLite file and its own
# PostgreSQL database, and all browser tests run on one worker (tests/conftest.py's scheduler).
# PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= auto
XDIST = -n $(PYTEST_WORKERS)

test: install services
	$(VENV)/bin/pytest $(XDIST)

# The inner loop: SQLite only, no browser tests, no slow ones (servers killed and restarted), in parallel;
# `make test` still runs everything.
test-fast: install
	$(VENV)/bin/pytest $(XDIST) -k "not postgresql" -m "not slow" --ignore=tests/browser

# The load benchmark (not part of `make test`): seeds a synthetic city (100,000 residents, 5,000,000 ledger
# entries by default) in a throwaway database, serves the app with the production gunicorn config, drives it
# with locust at 8 and 32 clients against raw-SQL and minimal-endpoint baselines, and writes the tables and a
# chart into docs/performance.md. Quick run: `make bench ARGS=--small`; SQLite: `make bench ARGS="--backend sqlite"`.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): setup.cfg $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,dev,bench]'
	touch $@

bench: install $(BENCH_STAMP)
	$(PY) bench/load/run.py $(ARGS)

# Claims (积分申报, issue 14), in-process, SQLite and PostgreSQL in one run (a few minutes): the photo work per phone
# photo, file_claim, approve, the reviewer's queue at 20 and 200 pending against one raw SQL query, and filing
# with 10,000 photo hashes in the year; rewrites its block in docs/performance.md. ARGS="--backend sqlite --no-docs".
bench-claims: install
	$(PY) bench/claims.py $(ARGS)

# The JSON API (issue 15) beside the pages and raw SQL, in-process, SQLite and PostgreSQL (a few minutes): her
# balance and month, the board, the lead's live list, a checkout; rewrites its block in docs/performance.md.
bench-api: install $(BENCH_STAMP)
	$(PY) bench/api.py $(ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
