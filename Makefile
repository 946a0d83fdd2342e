# Motcua — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi.py

.DEFAULT_GOAL := help
.PHONY: help install run test lint format migrate worker bench-tenancy bench-onestop bench-portal bench-lifecycle bench-provisioning bench-billing bench-reports clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

install: $(BIN)/.installed ## Create .venv and install the pinned dependencies

run: install ## Start the platform with the Hai Phong demo (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL are set)
	$(BIN)/python -m app.devserver

test: install lint ## Lint, then run the test suite on real PostgreSQL and Redis (browser tests: Debian chromium)
	@bash tests/browser/ensure_chromium.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install ## ruff (lint + format check) and the import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install ## Upgrade the platform and every tenant schema (needs DATABASE_URL)
	$(BIN)/flask tenants migrate

worker: install ## Run an RQ worker with the scheduler (needs DATABASE_URL and REDIS_URL)
	$(BIN)/flask jobs worker --with-scheduler

bench-tenancy: install ## Tenancy benchmark: 1,000 tenants, migrate-all, backend memory (prints JSON)
	@$(BIN)/python bench/tenancy.py

bench-onestop: install ## One-stop benchmark: task queue and counter intake on 100,000 dossiers (prints JSON)
	@$(BIN)/python bench/onestop.py

bench-lifecycle: install ## Lifecycle benchmark: export and re-import of a unit with 10,000 dossiers, a whole move (prints JSON)
	@$(BIN)/python bench/lifecycle.py

bench-provisioning: install ## Provisioning benchmark: approval -> portal answering 200, 1,000 tenants present, 20 at once (prints JSON)
	@$(BIN)/python bench/go_live.py

bench-portal: install ## Portal benchmark: search over 200 units, status lookup vs the django-tenants peer (prints JSON)
	@$(BIN)/python bench/portal.py

bench-reports: install ## Reporting benchmark: 06 report over 250 units / 1,000,000 dossiers, import and store rebuild of 100,000 (prints JSON)
	@$(BIN)/python bench/report_speed.py

bench-billing: install ## Billing benchmarks: metering cost per intake, aggregation of 1,000,000 events, month finalization for 250 units (prints JSON)
	@$(BIN)/python bench/ingest_cost.py
	@$(BIN)/python bench/aggregation_speed.py
	@$(BIN)/python bench/finalize_speed.py

clean: ## Remove the virtualenv and local data (embedded database included)
	rm -rf $(VENV) .data var
