# `make` lints and tests; `make run` serves the demo; see README.md.
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned to the CPU build: any looser spec pulls gigabytes of CUDA packages
TORCH_SPEC ?= torch==2.13.0
RECOMMENDER_API_TOKEN ?= dev-token
export RECOMMENDER_API_TOKEN

.PHONY: all install run test test-fast test-slow lint browser services bench clean

all: lint test-fast

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/recommender demo
	@echo "serving the demo on http://127.0.0.1:8000 (docs: /docs, demo page: /demo/demo-016; write token: $$RECOMMENDER_API_TOKEN)"
	$(BIN)/recommender serve --host 127.0.0.1 --port 8000

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

clean:
	rm -rf var models/index reports test-artifacts .pytest_cache .mypy_cache .ruff_cache
