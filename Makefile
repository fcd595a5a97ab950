# Two entry points: `make run` serves on the embedded defaults, `make test` runs every check.
# Both create .venv when it is missing and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test check-system check-test-system bench messages clean

$(BIN)/python:
	scripts/check-python $(PYTHON)
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.installed-run

check-system:
	scripts/install-system-packages

check-test-system:
	scripts/install-system-packages --test

run: check-system $(VENV)/.installed-run
	$(BIN)/python -m server

test: check-test-system $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: check-system $(VENV)/.installed-test
	$(BIN)/python bench/sandbox_overhead.py
	$(BIN)/python bench/evaluator_cost.py --placement split
	$(BIN)/python bench/evaluator_cost.py --placement same
	$(BIN)/python bench/evaluator_cost.py --placement free
	$(BIN)/python bench/slot_cpu.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/burst.py
	$(BIN)/python bench/memory.py

# Extract the server's and the CLI's messages, merge them into the .po catalogues and compile the .mo files.
messages: $(VENV)/.installed-run
	$(BIN)/python scripts/messages.py update

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
