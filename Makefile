# news-monitor: the commands a newcomer needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run demo test lint typecheck pytest bench clean

help:
	@echo "make run    - install into .venv, migrate, start the service (Ctrl-C stops it)"
	@echo "make demo   - the whole loop offline: sample feeds, matching, a digest to open"
	@echo "make test   - ruff, mypy and pytest (what CI runs)"
	@echo "make bench  - the benchmarks in benchmarks/ (BENCH=\"match poll scale\" to choose)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/news-monitor db upgrade
	$(BIN)/news-monitor run

demo: $(STAMP)
	$(BIN)/python -m monitor.demo

lint: $(STAMP)
	$(BIN)/ruff check monitor alerts tests benchmarks
	$(BIN)/ruff format --check monitor alerts tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
