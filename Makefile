# Acompte: two commands on a fresh machine.
#   make run    the whole app with the fake Stripe server, a worker and demo data
#   make test   everything the tests need, then the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install system-deps translations lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d translations -D messages >/dev/null

system-deps:
	scripts/system-deps.sh

run: install
	scripts/system-deps.sh runtime
	$(BIN)/python -m webapp.dev.run

# The suite runs in TEST_WORKERS processes (pytest-xdist), test by test; the
# tests of a file that owns a Redis database stay together (xdist_group). Much
# of the suite waits on localstripe, Chromium and SMTP, so three workers keep
# two cores busy. TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 3

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts

# The fault-injection suite alone (it also runs in `make test`): Stripe writes
# held or dropped by a proxy, run-due killed mid-write, then the sweep.
.PHONY: faults
faults: install
	$(BIN)/python -m pytest tests/integration/test_faults_run_due.py tests/integration/test_faults_client.py tests/integration/test_faults_webhooks.py $(PYTEST_ARGS)

# A long fuzz campaign of the API from its OpenAPI document (schemathesis), on
# SQLite and, with TEST_DATABASE_URL, PostgreSQL; prints every case and failure.
# `make test` runs a bounded slice (FUZZ_SECONDS=60 per database).
.PHONY: fuzz
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_VERBOSE=1 \
		$(BIN)/python -m pytest tests/integration/test_api_fuzz.py -s $(PYTEST_ARGS)
