# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= auto
# `make demo PORT=8001 DATA_DIR=/tmp/demo HOST=0.0.0.0`
PORT ?= 8000
HOST ?= 127.0.0.1
DATA_DIR ?= .assay-demo

.PHONY: demo test bench lint clean nucleus-envs

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11+ or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the server and the demo extra (sample photographs); the tests add the dev
# extra (PostgreSQL driver, S3, moto, Playwright, pytest…). Stamps reinstall when
# pyproject.toml changes.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.core

# The official `scale-nucleus` client, two release lines, each in its own venv (their pins
# would clash with the dev extra's): tests/support/nucleus_clients.py runs them in a
# subprocess against a live `assay serve`. Stamps reinstall when a requirements file changes.
NUCLEUS_LINES := 0.22 0.18
NUCLEUS_ENVS := $(foreach line,$(NUCLEUS_LINES),.venv-nucleus-$(line)/.installed)

.venv-nucleus-%/.installed: tests/compat/nucleus/requirements-%.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11+ or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x .venv-nucleus-$*/bin/python || $(PYTHON) -m venv .venv-nucleus-$*
	.venv-nucleus-$*/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	.venv-nucleus-$*/bin/python -c "import nucleus"
	touch $@

nucleus-envs: $(NUCLEUS_ENVS)

demo: $(VENV)/.core
	$(BIN)/assay demo --data-dir "$(DATA_DIR)" --host "$(HOST)" --port "$(PORT)"

test: $(VENV)/.dev $(NUCLEUS_ENVS)
	ASSAY_TEST_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python bench/api.py
	$(BIN)/python bench/labeling_ingest.py
	$(BIN)/python bench/labeling_queue.py
	$(BIN)/python bench/labeling_list.py

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .venv-nucleus-* .assay-demo .pytest_cache test-artifacts
