# `make` lints and tests; `make run` serves the demo; see README.md.
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned to the CPU build: any looser spec pulls gigabytes of CUDA packages
TORCH_SPEC ?= torch==2.13.0
RECOMMENDER_API_TOKEN ?= dev-token
export RECOMMENDER_API_TOKEN
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: all install run test test-fast test-slow lint browser services bench lock clean

all: lint test-fast

# the versions of requirements-dev.lock (`make lock`), so CI installs what was tested; the
# report extra brings matplotlib for `recommender evaluate`
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -c requirements-dev.lock -e '.[dev,report]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/recommender demo
	@echo "serving the demo on http://$(HOST):$(PORT) (docs: /docs, demo page: /demo/demo-016; write token: $$RECOMMENDER_API_TOKEN)"
	$(BIN)/recommender serve --host $(HOST) --port $(PORT)

browser:
	bash scripts/install_browser.sh

# PostgreSQL and Redis for the backend tests; the embedded default needs neither
services:
	bash scripts/start_services.sh

lint: install
	$(BIN)/ruff check recommender tests scripts
	$(BIN)/ruff format --check recommender tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install browser lint services
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow and not browser"

test-slow: install
	$(BIN)/pytest -m slow

# re-resolve both lock files from pyproject.toml (pip's resolver, dry run: no environment changes);
# requirements.lock is what the Docker image installs, requirements-dev.lock what make install does
lock: install
	mkdir -p var
	$(BIN)/pip install --quiet --dry-run --ignore-installed --report var/lock-runtime.json "$(TORCH_SPEC)" .
	$(BIN)/python scripts/write_lock.py var/lock-runtime.json requirements.lock \
		"pip install --dry-run --ignore-installed '$(TORCH_SPEC)' ."
	$(BIN)/pip install --quiet --dry-run --ignore-installed --report var/lock-dev.json "$(TORCH_SPEC)" '.[dev,report]'
	$(BIN)/python scripts/write_lock.py var/lock-dev.json requirements-dev.lock \
		"pip install --dry-run --ignore-installed '$(TORCH_SPEC)' '.[dev,report]'"

clean:
	rm -rf var models/index reports test-artifacts .pytest_cache .mypy_cache .ruff_cache
