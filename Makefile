# Two commands are the whole set-up: `make run` and `make test`. Each creates .venv and installs
# the project (with its test tools) on first use, and again whenever pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint sandbox migrate check bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## run the bot (the local sandbox when TELEGRAM_BOT_TOKEN is not set)
	$(BIN)/python -m bot run

sandbox: $(STAMP)  ## chat with the bot in this terminal
	$(BIN)/python -m bot sandbox

migrate: $(STAMP)  ## upgrade the database schema
	$(BIN)/python -m bot migrate

check: $(STAMP)  ## validate the course content
	$(BIN)/python -m bot lessons check

test: $(STAMP)  ## content check + the whole test suite (PostgreSQL too when TEST_DATABASE_URL is set)
	$(BIN)/python -m bot lessons check
	$(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot scheduler tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## quick benchmarks (print figures; not part of the test run; see README)
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_delivery.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
