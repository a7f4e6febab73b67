# Lifeguard: `make run` starts the demo, `make test` runs every check. Both set
# themselves up from nothing but python3 (3.11) and the package index.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
FLASK := $(BIN)/flask --app wsgi

.PHONY: setup run test test-sqlite test-postgres lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## run: set up, migrate the embedded SQLite database and start the demo (web, worker, simulator)
run: setup
	LIFEGUARD_DEMO=1 $(FLASK) demo init $(DEMO_ARGS)
	LIFEGUARD_DEMO=1 $(FLASK) db upgrade
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile.demo -e instance/demo.env

## test: lint, type-check, then the suite on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL
test: setup lint test-sqlite test-postgres

test-sqlite: setup
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: setup
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		$(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
		echo "TEST_DATABASE_URL is not set: PostgreSQL run skipped (.ci/run sets it)"; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app simulator

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: every measurement on SQLite and PostgreSQL side by side with bare Flask and webhook
## (ingest under wrk, event to Scalr call, rule matching, dashboard, memory); one table, also
## written to docs/performance.md. BENCH_SMOKE=1 for a tiny load; knobs in bench/run.py
bench: setup
	bench/setup.sh
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
