# The two commands of README.md: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hepwb-installed
PRESET ?= school

.PHONY: setup run test lab benchmark binder-check lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 9) <= v <= (3, 11) else "hepwb needs Python 3.9, 3.10 or 3.11 (TensorFlow 2.14 supports no other), found %d.%d at $(PYTHON); install python3.11 and run: make PYTHON=/path/to/python3.11" % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -c 'from hepwb.environment import main; main()'
	touch $(STAMP)

run: setup
	$(BIN)/hepwb run --preset $(PRESET) --out results

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab notebooks

benchmark: setup
	$(BIN)/python benchmarks/generation.py
	$(BIN)/python benchmarks/fastsim.py
	$(BIN)/python benchmarks/scaling.py

# Binder's limits, measured: a clone built from binder/ alone, every notebook on one CPU under 2 GB
binder-check:
	$(PYTHON) benchmarks/binder.py

lint: setup
	$(BIN)/ruff check hepwb tests benchmarks

clean:
	rm -rf results .pytest_cache
