# The two commands: `make run` (every experiment's quick preset + report) and `make test`.
# Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run run-full test test-slow lint format clean bench-gpu

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m experiments.reproduce --preset=quick

run-full: $(STAMP)
	$(PY) -m experiments.reproduce --preset=full

test: $(STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -n 2 -m "slow or not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) results

# Every benchmark at accelerator scale, < 8 min: results/benchmarks/accelerator.json (docs/accelerator.md).
# No bootstrap: an accelerator machine may have no network; .venv's Python if there, else $(PYTHON).
BENCH_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
bench-gpu:
	$(BENCH_PY) -m benchmarks.accelerator --scale=gpu $(BENCH_ARGS)
