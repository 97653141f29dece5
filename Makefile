# The two commands: `make demo` and `make test`. Each builds .venv from the pinned constraints.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR := build/demo

.PHONY: venv demo test bench images lint format clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit("loanapp needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

venv: $(INSTALLED)

# Both services under live traffic: publish, promote, roll back, kill and restart pinned.
demo: $(INSTALLED)
	$(BIN)/loanapp demo --work-dir $(DEMO_DIR)

# The benchmark: wrk against the predict API, the framework floor and the original design, side
# by side in one run (about 3 minutes); writes bench/results.md, .json and .png.
bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python bench/run.py

# Both service images, with docker or podman, on a stand-in base where python:3.11-slim cannot be
# pulled; tagged by a hash of their inputs, so a second run builds nothing. Prints their sizes.
images:
	$(PYTHON) scripts/images.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collects no test; that is a failure here, not a pass.
test: lint
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .coverage
