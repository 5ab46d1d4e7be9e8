# news-monitor: the commands a newcomer needs. `make help` lists them.
# Every install comes from uv.lock (exact versions with hashes); nothing is resolved anew.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV ?= $(TOOLS)/bin/uv
# a prerequisite only when it is ours to build (`make UV=uv test` uses the one on PATH)
UV_DEP := $(filter $(TOOLS)/bin/uv,$(UV))
# uv's settings for every call: this venv, this machine's Python, never a downloaded one.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
RUNTIME_VENV := .venv-runtime

.PHONY: help install install-dev run demo test lint typecheck pytest lock lock-check \
	runtime-check gazetteer bench clean

help:
	@echo "make run    - install the service into .venv (from uv.lock), migrate, start it (Ctrl-C stops it)"
	@echo "make demo   - the whole loop offline: sample feeds, matching, a digest to open"
	@echo "make test   - lock check, ruff, mypy, the runtime-only import check and pytest (what CI runs)"
	@echo "make lock   - re-resolve uv.lock from pyproject.toml (the only command that picks versions)"
	@echo "make bench  - the benchmarks in benchmarks/ (BENCH=\"match poll scale\" to choose)"
	@echo "make gazetteer - regenerate monitor/matching/data/gazetteer.tsv with the locked libraries"

# uv itself, pinned with hashes, in its own small venv (skipped when UV=... names another one).
$(TOOLS)/bin/uv: requirements-uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--require-hashes -r requirements-uv.txt
	touch $@

# The service's own packages only: no pytest, mypy or ruff (--inexact keeps a developer's tools).
install: $(UV_DEP)
	$(UV) sync --frozen --no-dev --inexact

install-dev: $(UV_DEP)
	$(UV) sync --frozen

run: install
	$(BIN)/news-monitor db upgrade
	$(BIN)/news-monitor run

demo: install
	$(BIN)/python -m monitor.demo

lock: $(UV_DEP)
	$(UV) lock

# pyproject.toml and uv.lock must agree: fails when a dependency was edited without `make lock`.
lock-check: $(UV_DEP)
	$(UV) lock --check

lint: install-dev
	$(BIN)/ruff check monitor alerts tests benchmarks scripts
	$(BIN)/ruff format --check monitor alerts tests benchmarks scripts

typecheck: install-dev
	$(BIN)/mypy

# The runtime environment alone (as `make run` installs it) imports every module of the product.
runtime-check: $(UV_DEP)
	UV_PROJECT_ENVIRONMENT=$(RUNTIME_VENV) $(UV) sync --frozen --no-dev --quiet
	$(RUNTIME_VENV)/bin/python -m monitor.selfcheck

pytest: install-dev
	$(BIN)/pytest

test: lock-check lint typecheck runtime-check pytest

gazetteer: install-dev
	$(BIN)/python -m scripts.build_gazetteer

bench: $(UV_DEP)
	$(UV) sync --frozen --group bench
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
