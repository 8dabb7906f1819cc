# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/assay demo --data-dir .assay-demo --host 127.0.0.1 --port 8000

test: $(STAMP)
	ASSAY_TEST_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest -n $${PYTEST_WORKERS:-auto} $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/api.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .assay-demo .pytest_cache
