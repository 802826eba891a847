# The two commands of README.md: `make run` and `make test`. Both set up the environment when needed:
# .venv-keras2 (Keras 2 + QKeras, Python 3.9-3.11) or .venv-keras3 (Keras 3 + HGQ2, Python 3.10-3.13),
# whichever the Python found fits; `make STACK=keras3 test` chooses (docs/design.md, "Two stacks").
PYTHON ?= $(shell for p in python3.11 python3.13 python3.12 python3.10 python3.9 python3; do \
	command -v $$p 2>/dev/null && break; done)
STACK ?= $(shell $(PYTHON) -c 'import sys; print("keras2" if sys.version_info[:2] <= (3, 11) else "keras3")')
VENV := .venv-$(STACK)
BIN := $(VENV)/bin
STAMP := $(VENV)/.hepwb-installed
PRESET ?= school

.PHONY: setup run test test-fast test-stack lab notebooks benchmark binder-check colab-check resolve-check lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@case "$(STACK)" in keras2|keras3) ;; *) echo "STACK must be keras2 or keras3, got '$(STACK)'" >&2; exit 2;; esac
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; low, high = {"keras2": ((3, 9), (3, 11)), "keras3": ((3, 10), (3, 13))}["$(STACK)"]; sys.exit(0 if low <= v <= high else "the $(STACK) stack needs Python %d.%d-%d.%d, found %d.%d at $(PYTHON): run make PYTHON=/path/to/python3.x (keras2: 3.9-3.11, keras3: 3.10-3.13)" % (*low, *high, *v))'
	@echo "setup 1/3: $(VENV), a virtual environment of $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: hepwb and the $(STACK) stack's pinned packages (minutes the first time; pip's log: $(VENV)/setup.log)"
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e ".[$(STACK),test]"; \
		echo $$? > $(VENV)/setup.status; } 2>&1 | tee $(VENV)/setup.log | \
		awk 'BEGIN {printf "          "} /^Collecting/ {if (++n % 5 == 0) {printf "."; fflush()}} END {print " " n " packages"}'
	@test "$$(cat $(VENV)/setup.status)" = 0 || { tail -n 25 $(VENV)/setup.log >&2; \
		echo "setup failed: pip could not install the $(STACK) stack; the whole log is in $(VENV)/setup.log" >&2; exit 1; }
	@echo "setup 3/3: checking the environment"
	@$(BIN)/python -c 'from hepwb.environment import main; main()'
	@touch $(STAMP)

run: setup
	$(BIN)/hepwb run --preset $(PRESET) --out results

test: setup
	$(BIN)/python -m pytest

# everyday changes: the unit tests, without notebook runs, event generation, trainings of more than a few
# seconds, Dask clusters or the browser (tests marked slow; about 2 minutes on two cores)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" tests

# the second stack in CI: the unit tests and every notebook's smoke run (tests/), without nbval's
# school-size re-execution of the committed notebooks and without the browser
test-stack: setup
	$(BIN)/python -m pytest -m "not browser" tests

# the environment's bin/ first on the PATH: `hepwb ...` works in JupyterLab's terminals
lab: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)" $(BIN)/jupyter lab notebooks

# the committed notebooks' outputs: every notebook re-executed in order at the school preset, saved as
# JupyterLab saves them (NOTEBOOKS="01_jet_tagging 04_trigger_fpga" for some)
notebooks: setup
	$(BIN)/python -m hepwb.run.committed $(NOTEBOOKS)

benchmark: setup
	$(BIN)/python benchmarks/generation.py
	$(BIN)/python benchmarks/fastsim.py
	$(BIN)/python benchmarks/scaling.py

# Binder's limits, measured: a clone built from binder/ alone, every notebook on one CPU under 2 GB
binder-check:
	$(PYTHON) benchmarks/binder.py

# Colab: Colab's TensorFlow 2.19 and Keras 3.10, hepwb installed by the notebooks' Colab cell, every notebook
colab-check:
	$(PYTHON) benchmarks/colab.py

# the keras3 stack resolved for Python 3.13 from wheels alone (pip --dry-run; needs PyPI, not 3.13 itself)
resolve-check:
	$(PYTHON) benchmarks/resolve_keras3.py

lint: setup
	$(BIN)/ruff check hepwb tests benchmarks

clean:
	rm -rf results .pytest_cache  # the environments stay: rm -rf .venv-keras2 .venv-keras3
