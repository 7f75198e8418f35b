# Smart Factory Data Platform — everything a plant engineer runs goes through here.
#   make demo        set up, start the embedded PostgreSQL, load demo data, serve the Dagster UI
#   make demo-once   the same, but stop after the first full materialisation (scripts, CI)
#   make gateway     the HTTP gateway (POST /v1/operations, read endpoints) in the foreground
#   make docs        generate the dbt docs site from the warehouse and serve it on port 8080
#   make stop        stop the UI, the daemon, the gateway, the dbt docs and the embedded PostgreSQL
#   make test        set up and run every check: ruff, pytest (real PostgreSQL, MariaDB, sshd), dbt
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: setup demo demo-once stop test lint dbt-parse services clean bench gateway docs

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' \
	  || { echo "Install Python 3.11 and rerun (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/snapshots dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml
	cd dbt_project && FACTORY_DBT_HOST=localhost FACTORY_DBT_USER=postgres FACTORY_DBT_DBNAME=factory \
	  ../$(BIN)/factory-dbt parse --quiet --project-dir . --profiles-dir .

setup: $(VENV)/.installed dbt_project/target/manifest.json

demo: setup
	$(BIN)/factory demo

demo-once: setup
	$(BIN)/factory demo --no-serve

gateway: setup
	$(BIN)/factory gateway

docs: setup
	$(BIN)/factory docs

stop:
	@if [ -x $(BIN)/factory ]; then $(BIN)/factory stop; else echo "nothing to stop (not set up)"; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check factory_assets resources sensors gateway

services: setup
	$(BIN)/python -m tests.services

# one pytest worker per CPU (each test module on one worker: its module-scoped warehouse is built
# once); every test has its own databases, folders and ports. PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto
test: setup services lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=20 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: setup
	$(BIN)/python bench/machine_logs.py

clean: stop
	rm -rf $(VENV) dbt_project/target .factory
